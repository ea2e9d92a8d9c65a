"""Hold-out and k-fold splits: per-class proportions, groups kept whole and placed without bias,
independence of the input order, the leakage ablation's twins, clear errors."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable

import numpy as np
import pytest
from scipy import stats

from sharpreg.data.splits import assign_splits, check_no_straddle, holdout_folds, place_twins
from sharpreg.errors import DataError
from sharpreg.specs import SplitParams

def keys_of(n: int) -> list[str]:
    return [f"img{i:05d}" for i in range(n)]


def split(labels, groups, seed=0, **params) -> list[str]:
    return assign_splits(labels, groups, SplitParams(**params), seed, keys=keys_of(len(labels)))


def grouped_data(seed: int = 7, n: int = 400, grouped_share: float = 0.22) -> tuple[list[int], list[str]]:
    """Labels (60 % class 0) and groups: ``grouped_share`` of the images in groups of 2-4 images of one
    label (near-duplicates), the rest alone."""
    rng = np.random.default_rng(seed)
    labels: list[int] = []
    groups: list[str] = []
    while len(labels) < grouped_share * n:
        size, label = int(rng.integers(2, 5)), int(rng.random() < 0.4)
        labels += [label] * size
        groups += [f"dup{len(groups)}"] * size
    while len(labels) < n:
        labels.append(int(rng.random() < 0.4))
        groups.append(f"single{len(groups)}")
    return labels, groups


def test_holdout_hits_per_class_proportions_on_singletons():
    labels = [0] * 60 + [1] * 40
    out = split(labels, [str(i) for i in range(100)], test=0.15, val=0.15)
    per = Counter(zip(out, labels))
    assert (per["test", 0], per["test", 1], per["val", 0], per["val", 1]) == (9, 6, 9, 6)
    assert per["train", 0] == 42 and per["train", 1] == 28


def test_holdout_keeps_groups_whole_and_varies_with_the_seed():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, 200).tolist()
    groups = [f"g{i // 3}" for i in range(200)]  # groups of three
    a = split(labels, groups, test=0.2, val=0.1)
    assert check_no_straddle(groups, a) == []
    assert abs(a.count("test") - 40) <= 6 and abs(a.count("val") - 20) <= 6
    assert a == split(labels, groups, test=0.2, val=0.1)
    assert a != split(labels, groups, seed=1, test=0.2, val=0.1)


def test_fractions_become_whole_folds():
    assert holdout_folds({"test": 0.15, "val": 0.15}, 20) == (20, {"test": 3, "val": 3})
    assert holdout_folds({"test": 0.2, "val": 0.15}, 20) == (20, {"test": 4, "val": 3})
    assert holdout_folds({"val": 0.15 / 0.8}, 20) == (16, {"val": 3})  # 5-fold's validation share
    assert holdout_folds({"test": 0.1}, 20) == (10, {"test": 1})
    assert holdout_folds({"test": 0.25, "val": 0.25}, 4) == (4, {"test": 1, "val": 1})
    with pytest.raises(DataError, match="too few images or groups"):
        holdout_folds({"test": 0.25, "val": 0.25}, 2)


@pytest.mark.parametrize("params", [{"test": 0.2, "val": 0.15}, {"method": "kfold", "folds": 5, "fold": 3, "val": 0.15}])
def test_split_does_not_depend_on_item_order_or_group_names(params):
    labels, groups = grouped_data(n=120)
    keys = keys_of(len(labels))
    first = assign_splits(labels, groups, SplitParams(**params), 3, keys=keys)
    perm = np.random.default_rng(0).permutation(len(labels))
    renamed = {g: f"x{i}" for i, g in enumerate(sorted(set(groups), reverse=True))}
    second = assign_splits([labels[i] for i in perm], [renamed[groups[i]] for i in perm],
                           SplitParams(**params), 3, keys=[keys[i] for i in perm])
    assert dict(zip(keys, first)) == dict(zip([keys[i] for i in perm], second))


def test_repeated_keys_are_refused():
    with pytest.raises(DataError, match="same identity key"):
        assign_splits([0, 1, 0], ["a", "b", "c"], SplitParams(), 0, keys=["k", "k", "j"])


# -- no bias: images with a near-duplicate are in test in proportion --------------------------------
LABELS, GROUPS = grouped_data(n=160)
KEYS = keys_of(len(LABELS))
SEEDS = range(60)


@functools.cache
def holdout_run(seed: int) -> tuple[str, ...]:
    return tuple(assign_splits(LABELS, GROUPS, SplitParams(test=0.2, val=0.2), seed, keys=KEYS))


def kfold_run(seed: int) -> tuple[str, ...]:  # always fold 0: before renumbering, the largest group's fold
    return tuple(assign_splits(LABELS, GROUPS, SplitParams(method="kfold", folds=5, fold=0, val=0.0), seed, keys=KEYS))


def under_represents_groups(seed: int) -> tuple[str, ...]:
    """A deliberately biased splitter: a third of the test set's duplicate groups moved to training."""
    rng = np.random.default_rng(seed)
    in_test = sorted({g for g, s in zip(GROUPS, holdout_run(seed)) if s == "test" and not g.startswith("single")})
    moved = {g for g in in_test if rng.random() < 1 / 3}
    return tuple("train" if g in moved else s for g, s in zip(GROUPS, holdout_run(seed)))


def represented_in_proportion(splitter: Callable[[int], tuple[str, ...]]) -> tuple[bool, float, float]:
    """Over many seeds (independent splits), is the mean share of grouped images among the test images
    their share in the data? (one-sample t-test over seeds, two-sided, alpha = 0.001)"""
    grouped = np.array([not g.startswith("single") for g in GROUPS])
    observed = []
    for seed in SEEDS:
        out = splitter(seed)
        assert check_no_straddle(GROUPS, list(out)) == []
        observed.append(grouped[np.array(out) == "test"].mean())
    p = stats.ttest_1samp(observed, grouped.mean()).pvalue
    return bool(p > 1e-3), float(grouped.mean()), float(np.mean(observed))


@pytest.mark.parametrize("splitter", [holdout_run, kfold_run])
def test_grouped_images_are_in_test_in_proportion(splitter):
    ok, expected, observed = represented_in_proportion(splitter)
    assert 0.2 < expected < 0.26
    assert ok, (expected, observed)


def test_the_proportion_check_catches_a_biased_splitter():
    ok, expected, observed = represented_in_proportion(under_represents_groups)
    assert not ok and observed < expected


def test_every_group_size_has_the_same_chance_of_test():
    size = Counter(GROUPS)
    in_test: Counter[int] = Counter()
    seen: Counter[int] = Counter()
    for seed in SEEDS:
        for g, s in dict(zip(GROUPS, holdout_run(seed))).items():
            seen[size[g]] += 1
            in_test[size[g]] += s == "test"
    assert sorted(seen) == [1, 2, 3, 4]
    for k in seen:  # each group goes to test with probability 1/5 (1 of 5 folds), whatever its size
        assert stats.binomtest(in_test[k], seen[k], 0.2).pvalue > 1e-3, (k, in_test[k], seen[k])


# -- k-fold, 'all', errors ----------------------------------------------------------------------
def test_all_and_kfold_and_errors():
    labels, groups = [0, 1] * 10, [str(i) for i in range(20)]
    assert split(labels, groups, method="all") == ["test"] * 20
    tests = []
    for fold in range(4):
        out = split(labels, groups, method="kfold", folds=4, fold=fold, val=0.25)
        assert Counter(out) == {"test": 5, "val": 5, "train": 10}
        tests += [i for i, s in enumerate(out) if s == "test"]
    assert sorted(tests) == list(range(20))
    with pytest.raises(DataError, match="fold must be 0..3"):
        split(labels, groups, method="kfold", folds=4, fold=4)
    with pytest.raises(DataError, match="5 folds need at least 5"):
        split([0, 1, 0], ["a", "b", "c"], method="kfold", folds=5)
    with pytest.raises(DataError, match="leaves no training images"):
        split(labels, groups, val=0.5, test=0.5)
    with pytest.raises(DataError, match="too few images or groups"):
        split([0, 0, 1, 1], ["a", "b", "c", "d"], val=0.25, test=0.25)


# -- the leakage ablation's two arms ------------------------------------------------------------
def ablation(mode: str, seed: int = 0):
    labels, groups = grouped_data(n=200)
    keys = keys_of(len(labels))
    base = assign_splits(labels, groups, SplitParams(test=0.2, val=0.15), seed, keys=keys)
    out, record = place_twins(labels, groups, base, keys, mode, seed)
    return labels, groups, keys, base, out, record


def test_both_arms_test_on_the_same_images_and_only_one_trains_on_twins():
    labels, groups, keys, base, held, rec_held = ablation("held_out")
    *_, leaky, rec_leaky = ablation("in_train")
    test_held = {k for k, s in zip(keys, held) if s == "test"}
    assert test_held == {k for k, s in zip(keys, leaky) if s == "test"}
    assert rec_held["twins"] == rec_leaky["twins"] and rec_held["twins"]
    assert {k for k, s in zip(keys, held) if s == "val"} == {k for k, s in zip(keys, base) if s == "val"}
    twins = set(rec_held["twins"])
    assert all(s is None for k, s in zip(keys, held) if k in twins)
    assert all(s == "train" for k, s in zip(keys, leaky) if k in twins)
    # one image of each test group stays in test; every one of them has a twin in the leaky training set
    group_of = dict(zip(keys, groups))
    test_groups = [group_of[k] for k in test_held]
    assert len(test_groups) == len(set(test_groups))
    twin_groups = {group_of[k] for k in twins}
    assert len(twin_groups) == rec_held["test_groups"]
    assert twin_groups <= set(test_groups)
    train_groups = {g for g, s in zip(groups, held) if s == "train"}
    assert not train_groups & set(test_groups)  # held out: no test image has a twin in training
    # the same number of training images per class in both arms
    per_class = [Counter(y for y, s in zip(labels, out) if s == "train") for out in (held, leaky)]
    assert per_class[0] == per_class[1]
    assert len(rec_leaky["replaced"]) == len(twins) and not rec_held["replaced"]
    assert not set(rec_leaky["replaced"]) & twins


def test_twins_do_not_depend_on_item_order():
    labels, groups, keys, base, out, rec = ablation("in_train", seed=4)
    perm = np.random.default_rng(1).permutation(len(keys))
    p = lambda xs: [xs[i] for i in perm]  # noqa: E731
    out2, rec2 = place_twins(p(labels), p(groups), p(base), p(keys), "in_train", 4)
    assert rec2 == rec and dict(zip(keys, out)) == dict(zip(p(keys), out2))


def test_twins_need_grouping_and_a_split_to_change():
    with pytest.raises(ValueError, match="needs group_duplicates = true"):
        SplitParams(twins="in_train", group_duplicates=False)
    with pytest.raises(ValueError, match="needs group_duplicates = true"):
        SplitParams(twins="held_out", method="predefined")
    with pytest.raises(DataError, match="only 0 training images"):
        place_twins([0, 0, 1], ["a", "a", "b"], ["test", "test", "train"], ["x", "y", "z"], "in_train", 0)
