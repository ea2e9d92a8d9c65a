"""The real BreastMNIST file (skipped without $SHARPREG_DATA): the official split and its known duplicate."""

from __future__ import annotations

from pathlib import Path

import pytest

from sharpreg.data.module import DataContext
from sharpreg_plugins.datasets.breastmnist import BreastMnistData, BreastMnistParams

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
