"""Data identity: content hashes, fingerprints, splits keyed by content, split files and how copies differ."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sharpreg.data.identity import Listed, Local, compare, fingerprint, pixel_hash, read_split_file
from sharpreg.data.io import read_image
from sharpreg.errors import DataError
from sharpreg_plugins.datasets.image_folder import ImageFolderData, ImageFolderParams

from .conftest import pattern, save_png


def tree(root: Path, n: int = 8, rename: bool = False) -> dict[str, Path]:
    """``n`` distinct images per class; with ``rename`` other names, sub-folders and formats (lossless)."""
    out = {}
    for c, cls in enumerate(("a", "b")):
        for i in range(n):
            name = f"{cls}/{i}.png" if not rename else f"{cls}/sub{i % 2}/x{(5 * i) % 13}.{('tif', 'bmp', 'png')[i % 3]}"
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pattern(50 * c + i)).save(path)
            out[f"{cls}/{i}"] = path
    return out


def module(root: Path, ctx, **split) -> ImageFolderData:
    split = {"val": 0.25, "test": 0.25, "seed": 4, **split}
    dm = ImageFolderData(ImageFolderParams(root=root, image_size=16, split=split), ctx())
    dm.setup()
    return dm


def by_content(dm: ImageFolderData) -> dict[str, str]:
    return {dm.content.hashes[it.id]: dm.assignment[it.id] for it in dm.items}


def test_content_hash_ignores_name_and_lossless_encoding_but_not_pixels(tmp_path: Path) -> None:
    a = pattern(3)
    png = save_png(tmp_path / "x.png", a)
    for name, options in (("y.tif", {"compression": "tiff_lzw"}), ("z.bmp", {}), ("w.png", {"compress_level": 9})):
        Image.open(png).save(tmp_path / name, **options)
        assert pixel_hash(read_image(tmp_path / name)) == pixel_hash(a)
    b = a.copy()
    b[0, 0] ^= 1
    assert pixel_hash(b) != pixel_hash(a)
    assert pixel_hash(a.astype(np.uint16)) != pixel_hash(a)  # dtype counts
    assert pixel_hash(a.reshape(a.shape[1], a.shape[0])) != pixel_hash(a)  # shape counts


def test_fingerprint_is_of_content_and_class_not_order() -> None:
    pairs = [("h1", "a"), ("h2", "b"), ("h2", "b")]
    assert fingerprint(pairs) == fingerprint(reversed(pairs))
    assert fingerprint(pairs) != fingerprint(pairs[:2])  # a repeated image counts
    assert fingerprint(pairs) != fingerprint([("h1", "b"), ("h2", "b"), ("h2", "b")])
    assert fingerprint(pairs).startswith("sha256:") and len(fingerprint(pairs)) == 71


def test_compare_tells_missing_extra_and_relabelled() -> None:
    listed = [Listed("h1", "a", "train", "a/1.png"), Listed("h2", "a", "test", "a/2.png"),
              Listed("h3", "b", "val", "b/3.png"), Listed("h4", "b", "train", "b/4.png")]
    local = [Local("x.png", "h1", "a"), Local("y.png", "h3", "a"), Local("z.png", "h4", "b"), Local("new.png", "h9", "b")]
    diff = compare(listed, local)
    assert set(diff.matched) == {"x.png", "z.png"} and diff.matched["x.png"].id == "a/1.png"
    assert [m.id for m in diff.missing] == ["a/2.png"] and [e.id for e in diff.extra] == ["new.png"]
    assert [(loc.id, lst.label) for loc, lst in diff.relabelled] == [("y.png", "b")]
    assert diff.describe() == "1 missing (a/2.png), 1 extra (new.png), 1 relabelled (y.png: b there, a here)"
    assert compare(listed, [Local(e.id, e.hash, e.label) for e in listed]).same


def test_a_renamed_reencoded_reordered_copy_gets_the_same_split_and_order(tmp_path: Path, ctx) -> None:
    tree(tmp_path / "one")
    tree(tmp_path / "two", rename=True)
    one, two = module(tmp_path / "one", ctx), module(tmp_path / "two", ctx)
    assert by_content(one) == by_content(two) and one.fingerprint == two.fingerprint
    for split in ("train", "val", "test"):  # the same images in the same order: the same batches
        assert [one.content.hashes[it.id] for it in one.items_of(split)] == \
               [two.content.hashes[it.id] for it in two.items_of(split)]
    assert {s for s in by_content(one).values()} == {"train", "val", "test"}


def test_split_file_reused_by_content(tmp_path: Path, ctx) -> None:
    tree(tmp_path / "one")
    record = module(tmp_path / "one", ctx, seed=11).split_record()
    (tmp_path / "s.json").write_text(json.dumps(record))
    paths = tree(tmp_path / "two", rename=True)
    reused = module(tmp_path / "two", ctx, method="file", file=tmp_path / "s.json")
    assert by_content(reused) == {i["hash"]: i["split"] for i in record["items"]}
    assert reused.split_record()["fingerprint"] == record["fingerprint"]
    # an image the file does not list: an error by default, else left out or put in training
    save_png(tmp_path / "two" / "b" / "extra.png", pattern(999))
    with pytest.raises(DataError, match=r"1 extra \(b/extra.png\).*data.split.unlisted"):
        module(tmp_path / "two", ctx, method="file", file=tmp_path / "s.json")
    left = module(tmp_path / "two", ctx, method="file", file=tmp_path / "s.json", unlisted="leave_out")
    assert "b/extra.png" not in left.assignment and left.fingerprint == record["fingerprint"]
    trained = module(tmp_path / "two", ctx, method="file", file=tmp_path / "s.json", unlisted="train")
    assert trained.assignment["b/extra.png"] == "train" and trained.fingerprint != record["fingerprint"]
    # a missing image is always an error, named as the file names it
    paths["a/3"].unlink()
    with pytest.raises(DataError, match=r"1 missing \(a/3.png\)"):
        module(tmp_path / "two", ctx, method="file", file=tmp_path / "s.json", unlisted="leave_out")


def test_a_pinned_fingerprint_stops_other_data(tmp_path: Path, ctx) -> None:
    tree(tmp_path / "one")
    good = module(tmp_path / "one", ctx).fingerprint
    assert module(tmp_path / "one", ctx) and ImageFolderData(
        ImageFolderParams(root=tmp_path / "one", image_size=16, fingerprint=good), ctx()).fingerprint == good
    (tmp_path / "one" / "a" / "0.png").unlink()
    dm = ImageFolderData(ImageFolderParams(root=tmp_path / "one", image_size=16, fingerprint=good), ctx())
    with pytest.raises(DataError, match="not the data this recipe was made with.*no split file to compare"):
        dm.setup()


def test_a_split_file_for_other_data(tmp_path: Path, ctx) -> None:
    tree(tmp_path / "one")
    (tmp_path / "s.json").write_text(json.dumps(module(tmp_path / "one", ctx).split_record()))
    for i in range(6):
        save_png(tmp_path / "other" / ("a" if i % 2 else "b") / f"{i}.png", pattern(500 + i))
    with pytest.raises(DataError, match="lists none of the 6 local images: it was made for other data"):
        module(tmp_path / "other", ctx, method="file", file=tmp_path / "s.json")


@pytest.mark.parametrize(("text", "problem"), [
    ("SECRET not json", "not JSON"),
    ('{"format": "other"}', 'no "format": "sharpreg-split"'),
    ('{"format": "sharpreg-split", "version": 9}', "version 9"),
    ('{"format": "sharpreg-split", "version": 1, "fingerprint": "md5:SECRET", "items": []}', "its fingerprint is not"),
    ('{"format": "sharpreg-split", "version": 1, "fingerprint": "sha256:' + "0" * 64 + '", "items": [{"hash": "SECRET"}]}',
     "item 1 needs"),
    ('{"format": "sharpreg-split", "version": 1, "fingerprint": "sha256:' + "0" * 64 + '", "items": [{"hash": "'
     + "a" * 64 + '", "class": "b", "split": "test"}]}', "does not match its items"),
])
def test_malformed_split_files_are_one_clear_error(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(DataError) as err:
        read_split_file(path)
    message = str(err.value)
    assert problem in message and str(path) in message and "SECRET" not in message and "\n" not in message
    with pytest.raises(DataError, match="split file .*missing.json not found"):
        read_split_file(tmp_path / "missing.json")
