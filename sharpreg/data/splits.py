"""Group-aware, stratified train/val/test splits: hold-out (greedy, exact fractions per class) and
k-fold (scikit-learn's ``StratifiedGroupKFold``). No group ever straddles two splits."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from ..errors import DataError
from ..specs import SplitParams

HOLDOUT_ORDER = ("test", "val", "train")


def holdout(labels: Sequence[int], groups: Sequence[str], fractions: dict[str, float], seed: int) -> list[str]:
    """Assign whole groups to ``test``/``val`` (the given fractions of each class) and ``train`` (the rest).

    Groups are taken largest first (random order among equals) and each goes to the split whose
    per-class quota it fills best without overshooting, so small data sets and big duplicate groups
    both work, and class proportions stay close to the data set's.
    """
    y = np.asarray(labels)
    n = len(y)
    if n == 0:
        return []
    rest = 1.0 - sum(fractions.values())
    if rest <= 0:
        raise DataError(f"data.split: val + test = {1 - rest:g} leaves no training images")
    classes, y_idx = np.unique(y, return_inverse=True)
    per_class = np.bincount(y_idx, minlength=len(classes))
    need = {s: np.rint(fractions.get(s, 0.0) * per_class).astype(int) for s in ("test", "val")}
    need["train"] = per_class - need["test"] - need["val"]
    members: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        members.setdefault(g, []).append(i)
    rng = np.random.default_rng(seed)
    keys = list(members)
    order = rng.permutation(len(keys))
    order = sorted(order, key=lambda k: -len(members[keys[k]]))  # stable: random among equal sizes
    out = np.empty(n, dtype=object)
    for k in order:
        idx = members[keys[k]]
        count = np.bincount(y_idx[idx], minlength=len(classes))

        def score(s: str) -> tuple[float, int]:
            fill = np.minimum(count, np.maximum(need[s], 0)).sum()
            over = np.maximum(count - np.maximum(need[s], 0), 0).sum()
            return (fill - 2.0 * over, int(need[s].sum()))

        best = max(HOLDOUT_ORDER, key=score)
        need[best] = need[best] - count
        out[idx] = best
    return out.tolist()


def _one_fold(labels: np.ndarray, groups: np.ndarray, n_splits: int, fold: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(rest, held) index arrays: fold ``fold`` of a stratified, group-respecting ``n_splits``-fold."""
    n_groups = len(np.unique(groups))
    if n_groups < n_splits:
        raise DataError(f"data.split: {n_splits} folds need at least {n_splits} images/groups; "
                        f"the data set has {n_groups}")
    with warnings.catch_warnings():  # a class smaller than the fold count is allowed (warned by sklearn)
        warnings.simplefilter("ignore", UserWarning)
        try:
            folds = list(StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed).split(
                np.zeros(len(labels)), labels, groups))
        except ValueError as err:
            raise DataError(f"data.split: cannot make {n_splits} stratified folds: {err}") from None
    rest, held = folds[fold]
    return np.sort(rest), np.sort(held)


def assign_splits(labels: Sequence[int], groups: Sequence[str], params: SplitParams, seed: int) -> list[str]:
    """Return ``"train" | "val" | "test"`` for each item; no group straddles two splits."""
    y = np.asarray(labels)
    g = np.asarray(groups)
    n = len(y)
    if n == 0:
        return []
    if params.method == "all":
        return ["test"] * n
    if params.method == "stratified":
        return holdout(y, g, {"test": params.test, "val": params.val}, seed)
    if params.method != "kfold":  # "predefined" is handled by the data set itself
        raise DataError(f"split method {params.method!r} needs a data set with a predefined split")
    if params.fold >= params.folds:
        raise DataError(f"data.split.fold = {params.fold} but folds = {params.folds}: fold must be 0..{params.folds - 1}")
    rest, test = _one_fold(y, g, params.folds, params.fold, seed)
    out = np.array(["train"] * n, dtype=object)
    out[test] = "test"
    if params.val > 0:
        share = params.val / (1.0 - 1.0 / params.folds)
        if share >= 1:
            raise DataError(f"data.split.val = {params.val} leaves no training images with {params.folds} folds")
        out[rest] = holdout(y[rest], g[rest], {"val": share}, seed + 1)
    return out.tolist()


def check_no_straddle(groups: Sequence[str], splits: Sequence[str]) -> list[str]:
    """Groups that appear in more than one split (empty when the split is honest)."""
    seen: dict[str, set[str]] = {}
    for grp, s in zip(groups, splits):
        seen.setdefault(grp, set()).add(s)
    return sorted(k for k, v in seen.items() if len(v) > 1)
