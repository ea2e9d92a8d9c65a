"""Hold-out and k-fold splits: per-class quotas, groups kept whole, 'all', clear errors."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from sharpreg.data.splits import assign_splits, check_no_straddle, holdout
from sharpreg.errors import DataError
from sharpreg.specs import SplitParams


def test_holdout_hits_per_class_quotas_on_singletons():
    labels = [0] * 60 + [1] * 40
    out = holdout(labels, [str(i) for i in range(100)], {"test": 0.15, "val": 0.15}, seed=0)
    per = Counter(zip(out, labels))
    assert (per["test", 0], per["test", 1], per["val", 0], per["val", 1]) == (9, 6, 9, 6)
    assert per["train", 0] == 42 and per["train", 1] == 28


def test_holdout_keeps_groups_whole_and_varies_with_the_seed():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, 200).tolist()
    groups = [f"g{i // 3}" for i in range(200)]  # groups of three
    a = holdout(labels, groups, {"test": 0.2, "val": 0.1}, seed=0)
    assert check_no_straddle(groups, a) == []
    assert abs(a.count("test") - 40) <= 6 and abs(a.count("val") - 20) <= 6
    assert a == holdout(labels, groups, {"test": 0.2, "val": 0.1}, seed=0)
    assert a != holdout(labels, groups, {"test": 0.2, "val": 0.1}, seed=1)


def test_tiny_data_sets_split_without_errors():
    out = assign_splits([0, 0, 1, 1], ["a", "b", "c", "d"], SplitParams(val=0.25, test=0.25), seed=0)
    assert sorted(out) == ["test", "test", "train", "train"] or Counter(out)["train"] >= 2


def test_all_and_kfold_and_errors():
    labels, groups = [0, 1] * 10, [str(i) for i in range(20)]
    assert assign_splits(labels, groups, SplitParams(method="all"), 0) == ["test"] * 20
    tests = []
    for fold in range(4):
        out = assign_splits(labels, groups, SplitParams(method="kfold", folds=4, fold=fold, val=0.25), 0)
        assert Counter(out) == {"test": 5, "val": 5, "train": 10}
        tests += [i for i, s in enumerate(out) if s == "test"]
    assert sorted(tests) == list(range(20))
    with pytest.raises(DataError, match="fold must be 0..3"):
        assign_splits(labels, groups, SplitParams(method="kfold", folds=4, fold=4), 0)
    with pytest.raises(DataError, match="5 folds need at least 5"):
        assign_splits([0, 1, 0], ["a", "b", "c"], SplitParams(method="kfold", folds=5), 0)
    with pytest.raises(DataError, match="leaves no training images"):
        assign_splits(labels, groups, SplitParams(val=0.5, test=0.5), 0)
