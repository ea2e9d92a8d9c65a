"""Stratified splits that keep groups whole and favour none of them.

Hold-out and k-fold splits both come from scikit-learn's ``StratifiedGroupKFold``: it deals whole
groups into folds whose class proportions match the data set's. It deals the largest groups first
and the first of them lands in fold 0, so the folds are renumbered in a random order before use. A
hold-out split is then a set of whole folds per split: with ``k`` folds and ``n`` of them for testing,
every group lands in the test set with probability ``n / k``, whatever its size, so images with a
near-duplicate are represented in test in proportion.

Every split is a function of the items' identity keys (passed in by the data module: each image's content
hash and class, so a renamed or re-encoded copy is split the same way), never of the order in which they
are listed.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from ..errors import DataError
from ..specs import SplitParams

#: at most this many folds make a hold-out split (fractions are rounded to multiples of 1/k)
MAX_HOLDOUT_FOLDS = 20
HOLDOUT_SPLITS = ("test", "val")


def canonical(keys: Sequence[str], groups: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The items' order sorted by key, and each item's group renamed after its smallest key (so
    neither the input order nor the caller's group names can change a split)."""
    k = np.asarray(keys, dtype=str)
    if len(k) != len(groups):
        raise ValueError("one key per item")
    if len(np.unique(k)) != len(k):
        raise DataError("data.split: two images have the same identity key; every image needs its own")
    order = np.argsort(k, kind="stable")
    first: dict[str, str] = {}
    for i in order:
        first.setdefault(str(groups[i]), str(k[i]))
    return order, np.array([first[str(groups[i])] for i in order], dtype=str)


def grouped_folds(labels: np.ndarray, groups: np.ndarray, n_folds: int, seed: int) -> np.ndarray:
    """Fold number (0..n_folds-1) of each item: stratified by label, groups whole, folds renumbered at random."""
    n_groups = len(np.unique(groups))
    if n_groups < n_folds:
        raise DataError(f"data.split: {n_folds} folds need at least {n_folds} images/groups; "
                        f"the data set has {n_groups}")
    with warnings.catch_warnings():  # a class smaller than the fold count is allowed (warned by sklearn)
        warnings.simplefilter("ignore", UserWarning)
        try:
            folds = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed).split(
                np.zeros(len(labels)), labels, groups)
            dealt = np.empty(len(labels), dtype=int)
            for f, (_, held) in enumerate(folds):
                dealt[held] = f
        except ValueError as err:
            raise DataError(f"data.split: cannot make {n_folds} stratified folds: {err}") from None
    renumber = np.random.default_rng([seed, 1]).permutation(n_folds)
    return renumber[dealt]


def holdout_folds(fractions: dict[str, float], most: int) -> tuple[int, dict[str, int]]:
    """How many folds ``k`` (2..``most``) and how many of them each split takes, so that ``n / k`` comes
    closest to each fraction (a split with a fraction above 0 gets at least one fold; ties: fewest folds)."""
    best: tuple[float, int, dict[str, int]] | None = None
    for k in range(2, most + 1):
        n = {s: max(1, int(np.floor(f * k + 0.5))) if f > 0 else 0 for s, f in fractions.items()}
        if sum(n.values()) >= k:
            continue
        err = max((abs(n[s] / k - f) for s, f in fractions.items()), default=0.0)
        if best is None or err < best[0] - 1e-12:
            best = (err, k, n)
    if best is None:
        wanted = ", ".join(f"{s} = {f:g}" for s, f in fractions.items())
        raise DataError(f"data.split: too few images or groups ({most} folds at most) for {wanted} and a "
                        "training set; use a larger data set or smaller fractions")
    return best[1], best[2]


def _holdout(labels: np.ndarray, groups: np.ndarray, fractions: dict[str, float], seed: int) -> np.ndarray:
    """``"test" | "val" | "train"`` per item (items already in canonical order)."""
    out = np.full(len(labels), "train", dtype=object)
    wanted = {s: f for s, f in fractions.items() if f > 0}
    if not wanted or len(labels) == 0:
        return out
    if sum(wanted.values()) >= 1:
        raise DataError(f"data.split: val + test = {sum(wanted.values()):g} leaves no training images")
    most = min(MAX_HOLDOUT_FOLDS, len(np.unique(groups)), int(np.bincount(labels).max()))
    k, n = holdout_folds(wanted, most)
    fold = grouped_folds(labels, groups, k, seed)
    start = 0
    for s in HOLDOUT_SPLITS:
        take = n.get(s, 0)
        out[(fold >= start) & (fold < start + take)] = s
        start += take
    return out


def assign_splits(labels: Sequence[int], groups: Sequence[str], params: SplitParams, seed: int,
                  keys: Sequence[str]) -> list[str]:
    """Return ``"train" | "val" | "test"`` for each item; no group straddles two splits.

    ``keys`` identify the items (unique, stable: a relative path or a content hash); the result
    depends on them, the labels, the grouping and the seed, not on the order of the items.
    """
    n = len(labels)
    if n == 0:
        return []
    if params.method == "all":
        return ["test"] * n
    if params.method not in ("stratified", "kfold"):  # "predefined" is handled by the data set itself
        raise DataError(f"split method {params.method!r} needs a data set with a predefined split")
    order, y, g = _canonical_labels(labels, groups, keys)
    if params.method == "stratified":
        ordered = _holdout(y, g, {"test": params.test, "val": params.val}, seed)
    else:
        ordered = _kfold(y, g, params, seed)
    out = np.empty(n, dtype=object)
    out[order] = ordered
    return out.tolist()


def _canonical_labels(labels: Sequence[int], groups: Sequence[str],
                      keys: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The canonical order (by key), the labels as 0..k-1 and the renamed groups in that order."""
    order, g = canonical(keys, groups)
    _, y = np.unique(np.asarray(labels)[order], return_inverse=True)
    return order, y, g


def fold_numbers(labels: Sequence[int], groups: Sequence[str], params: SplitParams, seed: int,
                 keys: Sequence[str]) -> list[int]:
    """The k-fold fold (0..folds-1) of each item, as :func:`assign_splits` deals them for ``method = "kfold"``."""
    order, y, g = _canonical_labels(labels, groups, keys)
    out = np.empty(len(order), dtype=int)
    out[order] = grouped_folds(y, g, params.folds, seed)
    return out.tolist()


def _kfold(y: np.ndarray, g: np.ndarray, params: SplitParams, seed: int) -> np.ndarray:
    if params.fold >= params.folds:
        raise DataError(f"data.split.fold = {params.fold} but folds = {params.folds}: fold must be 0..{params.folds - 1}")
    held = grouped_folds(y, g, params.folds, seed) == params.fold
    out = np.where(held, "test", "train").astype(object)
    if params.val > 0:
        share = params.val / (1.0 - 1.0 / params.folds)
        if share >= 1:
            raise DataError(f"data.split.val = {params.val} leaves no training images with {params.folds} folds")
        rest = np.flatnonzero(~held)
        out[rest] = _holdout(np.unique(y[rest], return_inverse=True)[1], g[rest], {"val": share}, seed + 1)
    return out


def place_twins(labels: Sequence[int], groups: Sequence[str], splits: Sequence[str], keys: Sequence[str],
                mode: str, seed: int) -> tuple[list[str | None], dict[str, Any]]:
    """The two arms of the leakage ablation, from one grouped split (``data.split.twins``).

    In every test group of two or more images one image, drawn at random, stays in test; the others
    are its *twins*. ``"held_out"`` leaves the twins out; ``"in_train"`` puts them in training in place
    of as many training images of the same class, drawn at random (those are left out), so both arms
    train on the same number of images per class. The draws for the test set come first, so both
    arms test on the same images. Returns the new split per item (``None``: not used) and a record.
    """
    if mode not in ("held_out", "in_train"):
        raise ValueError(f"unknown twins mode {mode!r}")
    order, g = canonical(keys, groups)
    k = np.asarray(keys, dtype=str)[order]
    y = np.asarray(labels)[order]
    s = np.asarray(splits, dtype=object)[order]
    rng = np.random.default_rng([seed, 2])
    twins: list[int] = []
    test_groups = 0
    for name in np.unique(g[s == "test"]):
        members = np.flatnonzero(g == name)
        if len(members) > 1:
            test_groups += 1
            keep = members[rng.integers(len(members))]
            twins += [int(i) for i in members if i != keep]
    out = s.copy()
    replaced: list[int] = []
    out[twins] = None
    if mode == "in_train":
        out[twins] = "train"
        for c in np.unique(y[twins]):
            pool = np.flatnonzero((s == "train") & (y == c))
            need = int(np.sum(y[twins] == c))
            if need > len(pool):
                raise DataError(f"data.split.twins = 'in_train': class {c} has {need} twins of test images but "
                                f"only {len(pool)} training images to replace")
            replaced += sorted(int(i) for i in rng.choice(pool, need, replace=False))
        out[replaced] = None
    record = {
        "mode": mode,
        "test_groups": test_groups,
        "twins": [str(k[i]) for i in sorted(twins)],
        "replaced": [str(k[i]) for i in sorted(replaced)],
    }
    result = np.empty(len(out), dtype=object)
    result[order] = out
    return result.tolist(), record


def check_no_straddle(groups: Sequence[str], splits: Sequence[str]) -> list[str]:
    """Groups that appear in more than one split (empty when the split is honest)."""
    seen: dict[str, set[str]] = {}
    for grp, s in zip(groups, splits):
        seen.setdefault(grp, set()).add(s)
    return sorted(k for k, v in seen.items() if len(v) > 1)
