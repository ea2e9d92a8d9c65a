"""The real BreastMNIST file (skipped without $SHARPREG_DATA): the official split, its known duplicate and the
pixels as MedMNIST v2 feeds them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sharpreg.data.module import DataContext
from sharpreg_plugins.datasets.breastmnist import BreastMnistData, BreastMnistParams

from .conftest import file_order

pytestmark = pytest.mark.data


def bm(real: Path, **kw) -> BreastMnistData:
    dm = BreastMnistData(BreastMnistParams(**kw), DataContext(seed=0, data_home=real))
    dm.setup()
    return dm


def test_official_split_546_78_156(real_data: Path):
    dm = bm(real_data)
    s = dm.summary()
    assert s["totals"] == {"train": 546, "val": 78, "test": 156}
    assert s["counts"]["train"] == {"malignant": 147, "normal_or_benign": 399}
    assert s["counts"]["test"] == {"malignant": 42, "normal_or_benign": 114}
    x = dm.dataset("test")[0]
    assert tuple(x["image"].shape) == (1, 28, 28)


def test_cross_split_conflicting_duplicate_reported_and_droppable(real_data: Path):
    dm = bm(real_data)
    exact = [g for g in dm.duplicate_records if g["kind"] == "exact"]
    assert [sorted(g["images"]) for g in exact] == [["test[76]", "train[115]"]]
    assert exact[0]["cross_class"] and exact[0]["splits"] == ["test", "train"]
    assert dm.summary()["duplicates"]["straddling"]  # the official split leaks; reported
    dropped = bm(real_data, cross_class_duplicates="drop", near_duplicate_distance=-1)
    assert dropped.summary()["totals"] == {"train": 545, "val": 78, "test": 155}


def test_real_pixels_reach_the_network_as_medmnist_feeds_them(real_data: Path):
    raw = np.load(real_data / "breastmnist" / "breastmnist.npz")["test_images"]
    ds = bm(real_data).dataset("test")
    x = torch.stack([ds[i]["image"][0] for i in file_order(ds)])
    torch.testing.assert_close(x, torch.from_numpy(raw).float() / 127.5 - 1, rtol=0, atol=1e-6)
