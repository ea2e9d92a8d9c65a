"""Every bad-input case gives one clear DataError naming the file or folder (or a counted skip)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sharpreg.errors import DataError
from sharpreg_plugins.datasets.breastmnist import BreastMnistData, BreastMnistParams
from sharpreg_plugins.datasets.busi import BusiData, BusiParams
from sharpreg_plugins.datasets.image_folder import ImageFolderData, ImageFolderParams

from .conftest import busi_tree, pattern, save_png


def busi(root: Path, ctx, **kw) -> BusiData:
    return BusiData(BusiParams(root=root, image_size=16, **kw), ctx())


def folder(root: Path, ctx, **kw) -> ImageFolderData:
    return ImageFolderData(ImageFolderParams(root=root, image_size=16, **kw), ctx())


def test_missing_root_says_where_and_layout(tmp_path, ctx):
    with pytest.raises(DataError) as e:
        busi(tmp_path / "nowhere", ctx).setup()
    msg = str(e.value)
    assert str(tmp_path / "nowhere") in msg and "data.root" in msg
    assert "expected layout" in msg and "_mask.png" in msg


def test_default_root_from_env_and_missing_env(tmp_path, ctx):
    with pytest.raises(DataError, match="SHARPREG_DATA"):
        BusiData(BusiParams(image_size=16), ctx()).setup()
    with pytest.raises(DataError) as e:
        BusiData(BusiParams(image_size=16), ctx(data_home=tmp_path)).setup()
    assert str(tmp_path / "busi") in str(e.value) and "$SHARPREG_DATA/busi" in str(e.value)
    busi_tree(tmp_path / "busi")
    dm = BusiData(BusiParams(image_size=16), ctx(data_home=tmp_path))
    dm.setup()
    assert len(dm.items) == 12


def test_relative_root_starts_at_recipe_folder(tmp_path, ctx):
    busi_tree(tmp_path / "mydata")
    dm = BusiData(BusiParams(root=Path("mydata"), image_size=16), ctx())
    dm.setup()
    assert dm.found == {"benign": 6, "malignant": 6}


def test_missing_class_folder(tmp_path, ctx):
    busi_tree(tmp_path, {"benign": 3})
    with pytest.raises(DataError, match=r"class folder .*malignant not found.*benign"):
        busi(tmp_path, ctx).setup()


def test_empty_class_folder(tmp_path, ctx):
    busi_tree(tmp_path, {"benign": 3})
    (tmp_path / "malignant").mkdir()
    with pytest.raises(DataError, match=r"malignant holds no images"):
        busi(tmp_path, ctx).setup()


def test_image_without_mask_and_orphan_mask(tmp_path, ctx):
    busi_tree(tmp_path, {"benign": 3, "malignant": 3})
    (tmp_path / "benign" / "benign (2)_mask.png").unlink()
    with pytest.raises(DataError, match=r"benign \(2\)\.png has no mask"):
        busi(tmp_path, ctx).setup()
    dm = busi(tmp_path, ctx, require_masks=False)
    dm.setup()
    assert dm.found["benign"] == 3
    save_png(tmp_path / "malignant" / "malignant (9)_mask.png", np.zeros((40, 48), np.uint8))
    with pytest.raises(DataError, match=r"mask .*malignant \(9\)_mask\.png has no image"):
        busi(tmp_path, ctx, require_masks=False).setup()


def test_mask_size_mismatch_names_both_files(tmp_path, ctx):
    busi_tree(tmp_path, {"benign": 3, "malignant": 3})
    save_png(tmp_path / "malignant" / "malignant (2)_mask_1.png", np.zeros((41, 48), np.uint8))
    with pytest.raises(DataError) as e:
        busi(tmp_path, ctx).setup()
    msg = str(e.value)
    assert "malignant (2)_mask_1.png is 48x41 px" in msg and "malignant (2).png is 48x40 px" in msg


def test_corrupt_image_is_named_or_skipped_and_counted(tmp_path, ctx):
    busi_tree(tmp_path, {"benign": 4, "malignant": 4})
    bad = tmp_path / "benign" / "benign (3).png"
    bad.write_bytes(bad.read_bytes()[:60])  # truncated PNG
    with pytest.raises(DataError) as e:
        busi(tmp_path, ctx).setup()
    assert str(bad) in str(e.value) and "on_bad_image" in str(e.value)
    dm = busi(tmp_path, ctx, on_bad_image="skip")
    dm.setup()
    s = dm.summary()
    assert s["found"] == {"benign": 4, "malignant": 4}
    assert s["used"] == {"benign": 3, "malignant": 4}
    assert [r["image"] for r in s["skipped"]] == ["benign/benign (3).png"]
    assert str(bad) in s["skipped"][0]["reason"]


def test_not_an_image_at_all(tmp_path, ctx):
    busi_tree(tmp_path, {"benign": 3, "malignant": 3})
    (tmp_path / "malignant" / "malignant (1).png").write_text("hello")
    with pytest.raises(DataError, match=r"cannot read image .*malignant \(1\)\.png"):
        busi(tmp_path, ctx).setup()


def test_class_emptied_by_skips_is_an_error(tmp_path, ctx):
    busi_tree(tmp_path, {"benign": 3, "malignant": 1})
    (tmp_path / "malignant" / "malignant (1).png").write_text("broken")
    with pytest.raises(DataError, match="class 'malignant' has no images left"):
        busi(tmp_path, ctx, on_bad_image="skip").setup()


def test_cross_class_duplicate_error_policy(tmp_path, ctx):
    busi_tree(tmp_path, {"benign": 3, "malignant": 3})
    same = pattern(99)
    save_png(tmp_path / "benign" / "benign (1).png", same)
    save_png(tmp_path / "malignant" / "malignant (1).png", same)
    with pytest.raises(DataError, match=r"different classes: benign/benign \(1\)\.png, malignant/malignant \(1\)\.png"):
        busi(tmp_path, ctx, cross_class_duplicates="error").setup()


def test_unknown_and_single_class_in_image_folder(tmp_path, ctx):
    for cls, seeds in {"cyst": [1, 2], "tumour": [3, 4]}.items():
        for s in seeds:
            save_png(tmp_path / cls / f"{s}.png", pattern(s))
    with pytest.raises(DataError, match=r"unknown class 'tumor' \(data.classes\): .* has cyst, tumour"):
        folder(tmp_path, ctx, classes=["cyst", "tumor"]).setup()
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"empty holds no images"):
        folder(tmp_path, ctx).setup()
    with pytest.raises(DataError, match="need at least two"):
        folder(tmp_path / "cyst", ctx).setup()


def write_csv(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join(rows) + "\n")
    return path


def test_csv_missing_columns_unknown_files_bad_values(tmp_path, ctx):
    for s in range(4):
        save_png(tmp_path / "img" / f"{s}.png", pattern(s))
    write_csv(tmp_path / "a.csv", ["path,label", "img/0.png,a", "img/1.png,b"])
    with pytest.raises(DataError, match=r"lacks the column\(s\) 'file' that the recipe names; its header has 2 other"):
        folder(tmp_path, ctx, csv="a.csv").setup()
    with pytest.raises(DataError, match=r"lacks the column\(s\) 'patient'"):
        folder(tmp_path, ctx, csv="a.csv", file_column="path", group_column="patient").setup()
    write_csv(tmp_path / "b.csv", ["file,label", "img/0.png,a", "img/9.png,b", "img/1.png,b", "img/2.png,a"])
    with pytest.raises(DataError) as e:
        folder(tmp_path, ctx, csv="b.csv").setup()
    assert "b.csv:3: the file in column 'file' does not exist" in str(e.value) and "9.png" not in str(e.value)
    dm = folder(tmp_path, ctx, csv="b.csv", missing_files="skip", split={"val": 0, "test": 0.34})
    dm.setup()
    s = dm.summary()
    assert [r["image"] for r in s["skipped"]] == ["img/9.png"] and sum(s["used"].values()) == 3
    assert any("1 image files" in n for n in s["notes"])  # img/3.png is not listed
    write_csv(tmp_path / "c.csv", ["file,label,fold", "img/0.png,a,0", "img/1.png,b,x"])
    with pytest.raises(DataError, match=r"c\.csv:3: column 'fold' \(the fold\) is not an integer"):
        folder(tmp_path, ctx, csv="c.csv", fold_column="fold").setup()
    write_csv(tmp_path / "d.csv", ["file,label,split", "img/0.png,a,train", "img/1.png,b,holdout"])
    with pytest.raises(DataError, match=r"d\.csv:3: column 'split' \(the split\) is not one of train, val, test"):
        folder(tmp_path, ctx, csv="d.csv", split_column="split").setup()
    write_csv(tmp_path / "e.csv", ["file,label", "img/0.png,a", "img/1.png,", "img/2.png,b"])
    with pytest.raises(DataError, match=r"e\.csv:3: empty label"):
        folder(tmp_path, ctx, csv="e.csv").setup()
    with pytest.raises(DataError, match=r"data.csv .*nope.csv not found"):
        folder(tmp_path, ctx, csv="nope.csv").setup()
    write_csv(tmp_path / "f.csv", ["file,label", "img/0.png,a", "img/0.png,b"])
    with pytest.raises(DataError, match=r"f\.csv:3 lists the same file as .*f\.csv:2"):
        folder(tmp_path, ctx, csv="f.csv").setup()


def test_predefined_split_needs_one(tmp_path, ctx):
    for cls in "ab":
        for s in range(3):
            save_png(tmp_path / cls / f"{s}.png", pattern(s + (10 if cls == "b" else 0)))
    with pytest.raises(DataError, match="predefined"):
        folder(tmp_path, ctx, split={"method": "predefined"}).setup()


def test_breastmnist_missing_file_and_keys(tmp_path, ctx):
    with pytest.raises(DataError) as e:
        BreastMnistData(BreastMnistParams(root=tmp_path, resolution=64), ctx()).setup()
    assert "breastmnist_64.npz not found" in str(e.value) and "files there: none" in str(e.value)
    np.savez(tmp_path / "breastmnist.npz", train_images=np.zeros((2, 28, 28), np.uint8), train_labels=np.zeros((2, 1)))
    with pytest.raises(DataError, match="lacks val_images, val_labels"):
        BreastMnistData(BreastMnistParams(root=tmp_path), ctx()).setup()


def test_corrupt_image_found_when_loading_is_a_data_error(tmp_path, ctx):
    """A file that breaks after setup (or with probing off) still gives a DataError naming it."""
    busi_tree(tmp_path, {"benign": 3, "malignant": 3})
    dm = busi(tmp_path, ctx, split={"method": "all"})
    dm.setup()
    (tmp_path / "benign" / "benign (2).png").write_text("gone bad")
    with pytest.raises(DataError, match=r"benign \(2\)\.png"):
        dm.dataset("test")


def test_dicom_without_reader_says_what_to_install(tmp_path, ctx):
    try:
        import pydicom  # noqa: F401
    except ImportError:
        for cls in "ab":
            save_png(tmp_path / cls / "0.png", pattern(1 if cls == "a" else 2))
        (tmp_path / "a" / "scan.dcm").write_bytes(b"\0" * 200)
        with pytest.raises(DataError, match=r"scan.dcm is a DICOM file: install .*sharpreg\[dicom\]"):
            folder(tmp_path, ctx).setup()
    else:
        pytest.skip("pydicom is installed here")
