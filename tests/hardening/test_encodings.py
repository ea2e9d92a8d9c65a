"""Item 6: encodings and sizes. Recipes that are not UTF-8, binary files named by `extends`, long chains
and deep nesting, non-UTF-8 image file names, decompression bombs and over-long names: one clear line
(or success), never a traceback."""

from __future__ import annotations

import csv
import os
import struct
import zlib
from pathlib import Path

import pytest

from sharpreg.recipe import load_recipe
from sharpreg.runs import RunFolder

from ..data.conftest import pattern, save_png
from .test_messages import image_folder_recipe


def issues(result) -> list[str]:
    assert result.code == 2 and "Traceback" not in result.err, result.err
    return [line.strip() for line in result.err.splitlines()[1:] if line.strip()]


def test_a_recipe_that_is_not_utf8_is_one_issue(cli, tiny: Path, tmp_path: Path) -> None:
    latin = tmp_path / "latin.toml"
    latin.write_bytes(tiny.read_text().replace('"tiny"', '"tïny"').encode("latin-1"))
    (issue,) = issues(cli("check", latin))
    byte = latin.read_bytes().index(b"\xef") + 1
    assert issue.endswith(f"latin.toml: is not UTF-8 text (byte {byte} cannot be decoded); save it as UTF-8"), issue
    bom = tmp_path / "bom.toml"
    bom.write_bytes(b"\xef\xbb\xbf" + tiny.read_bytes())  # Windows editors write a byte-order mark
    assert cli("check", bom).code == 0


def test_extends_of_a_binary_or_huge_file_is_one_issue(cli, tmp_path: Path) -> None:
    (tmp_path / "blob.bin").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "huge.toml").write_text("# " + "x" * (1 << 20) + "\n")
    for target, message in (("blob.bin", "is not UTF-8 text"), ("huge.toml", "is 1.0 MiB; a recipe file is a small")):
        (tmp_path / "r.toml").write_text(f'extends = "{target}"\n')
        (issue,) = issues(cli("check", tmp_path / "r.toml"))
        assert f"{target}: {message}" in issue, issue


def test_an_extends_chain_of_any_length_and_its_cycles(tmp_path: Path, tiny: Path) -> None:
    """Before: a chain of 1,500 files raised RecursionError."""
    previous = tiny
    for i in range(1500):
        previous_name, previous = previous.name, tmp_path / f"c{i}.toml"
        previous.write_text(f'extends = "{previous_name}"\n[train]\nseed = {i}\n')
    recipe = load_recipe(previous)
    assert recipe.train.seed == 1499 and len(recipe.raw.files) == 1501
    (tmp_path / "c0.toml").write_text('extends = "c1499.toml"\n')
    with pytest.raises(Exception, match="extends cycle"):
        load_recipe(previous)


def test_deep_nesting_is_one_issue(cli, tiny: Path, tmp_path: Path) -> None:
    deep = tmp_path / "deep.toml"
    deep.write_text("schema_version = 1\nx = " + "[" * 200 + "]" * 200 + "\n" + "a." * 400 + "b = 1\n")
    (issue,) = issues(cli("check", deep))
    assert "nested deeper than 32 levels" in issue or "TOML syntax error" in issue
    assert "nested deeper than 32 levels" in issues(cli("check", tiny, "--set", "a" + ".b" * 100 + "=1"))[0]


def test_an_over_long_name_is_reported_by_check(cli, tiny: Path, tmp_path: Path) -> None:
    long = tmp_path / "long.toml"
    long.write_text(tiny.read_text().replace('name = "tiny"', f'name = "{"x" * 300}"'))
    (issue,) = issues(cli("check", long))
    assert "meta.name: String should have at most 100 characters" in issue
    named = load_recipe(tiny, [f'meta.name="{"ab/" * 25}"'])
    folder = RunFolder.create(named, root=tmp_path / "runs")
    folder.release()
    assert folder.path.parent == tmp_path / "runs" and len(folder.path.name) <= 16 + 60


def _png_header(width: int, height: int) -> bytes:
    """A PNG that claims ``width`` x ``height`` pixels in a few bytes (what a decompression bomb does)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


@pytest.mark.parametrize("side", [10_000, 30_000])  # 100 MP (PIL warns) and 900 MP (PIL refuses)
def test_a_decompression_bomb_is_a_bad_image(cli, tmp_path: Path, side: int) -> None:
    recipe = image_folder_recipe(tmp_path, "")
    (tmp_path / "lab" / "benign" / "bomb.png").write_bytes(_png_header(side, side))
    (line,) = [x for x in cli("data", "summary", recipe).err.splitlines() if x.strip()]
    assert "bomb.png" in line and "decompression bomb" in line and 'on_bad_image = "skip"' in line
    recipe.write_text(recipe.read_text().replace("image_size = 32", 'image_size = 32\non_bad_image = "skip"'))
    result = cli("data", "summary", recipe, "--json")
    assert result.code == 0 and "bomb.png" in result.out


@pytest.mark.slow
def test_image_names_that_are_not_utf8_train_to_the_end(cli, tmp_path: Path) -> None:
    """Before: a finished training failed writing predictions and could never finish."""
    recipe = image_folder_recipe(tmp_path, "")
    odd = os.fsencode(tmp_path / "lab" / "malignant") + b"/caf\xe9-\xff.png"
    save_png(Path(os.fsdecode(odd)), pattern(77))
    result = cli("run", recipe, "--out", tmp_path / "run", "--no-progress", "--set", "eval.bootstrap=0",
                 "--set", "data.split.val=0.25", "--set", "data.split.test=0.25")
    assert result.code == 0, result.err
    assert r"malignant/caf\\xe9-\\xff.png" in (tmp_path / "run" / "split.json").read_text()
    with (tmp_path / "run" / "predictions" / "test.csv").open(encoding="utf-8") as fh:
        assert list(csv.reader(fh))[0][:2] == ["id", "label"]
