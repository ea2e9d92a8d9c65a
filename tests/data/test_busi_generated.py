"""busi on a generated tree: label maps, lesion crops through the pipeline, RGB output; breastmnist files."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from sharpreg_plugins.datasets.breastmnist import BreastMnistData, BreastMnistParams
from sharpreg_plugins.datasets.busi import BusiData, BusiParams

from .conftest import busi_tree


def test_label_map_merges_classes(tmp_path, ctx):
    busi_tree(tmp_path)
    dm = BusiData(BusiParams(root=tmp_path, image_size=16, classes=["normal", "benign", "malignant"],
                             label_map={"normal": "non-malignant", "benign": "non-malignant"},
                             split={"method": "all"}), ctx())
    dm.setup()
    assert dm.class_names == ["non-malignant", "malignant"] and dm.num_classes == 2
    assert dm.found == {"non-malignant": 10, "malignant": 6}
    assert np.bincount(dm.labels("test")).tolist() == [10, 6]


def test_label_map_must_name_used_classes():
    with pytest.raises(ValueError, match="not in classes"):
        BusiParams(classes=["benign", "malignant"], label_map={"normal": "x"})
    with pytest.raises(ValueError, match="at least two labels"):
        BusiParams(classes=["benign", "malignant"], label_map={"benign": "x", "malignant": "x"})


def test_lesion_crop_batches_and_rgb(tmp_path, ctx):
    busi_tree(tmp_path, {"benign": 4, "malignant": 4})
    dm = BusiData(BusiParams(root=tmp_path, image_size=20, channels=3, crop="lesion", crop_margin=0.0,
                             split={"method": "all"}), ctx())
    batch = next(iter(DataLoader(dm.dataset("test"), batch_size=8)))
    assert tuple(batch["image"].shape) == (8, 3, 20, 20) and set(batch) == {"image", "label", "id"}
    assert torch.equal(batch["image"][:, 0], batch["image"][:, 2])  # grey repeated into RGB
    whole = BusiData(BusiParams(root=tmp_path, image_size=20, split={"method": "all"}), ctx())
    assert not torch.equal(next(iter(DataLoader(whole.dataset("test"), batch_size=8)))["image"][:, 0],
                           batch["image"][:, 0])


def test_breastmnist_resolution_files_and_custom_file(tmp_path, ctx):
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in {"train": 6, "val": 2, "test": 4}.items():
        arrays[f"{split}_images"] = rng.integers(0, 255, (n, 64, 64), dtype=np.uint8)
        arrays[f"{split}_labels"] = (np.arange(n) % 2).reshape(-1, 1).astype(np.uint8)
    np.savez(tmp_path / "breastmnist_64.npz", **arrays)
    dm = BreastMnistData(BreastMnistParams(root=tmp_path, resolution=64, image_size=32), ctx())
    dm.setup()
    assert dm.summary()["totals"] == {"train": 6, "val": 2, "test": 4}
    assert tuple(dm.dataset("val")[0]["image"].shape) == (1, 32, 32)
    other = BreastMnistData(BreastMnistParams(file=tmp_path / "breastmnist_64.npz", split={"method": "all"}), ctx())
    other.setup()
    assert len(other.items_of("test")) == 12
    arrays["test_labels"][0] = 2
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(Exception, match=r"test_labels holds 1 label value\(s\) other than 0 and 1"):
        BreastMnistData(BreastMnistParams(file=tmp_path / "bad.npz"), ctx()).setup()
