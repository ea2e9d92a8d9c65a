"""Group-aware, stratified train/val/test splits (hold-out and k-fold) on top of scikit-learn."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from ..errors import DataError
from ..specs import SplitParams


def _one_fold(labels: np.ndarray, groups: np.ndarray, n_splits: int, fold: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(rest, held) index arrays: fold ``fold`` of a stratified, group-respecting ``n_splits``-fold."""
    n_splits = max(2, min(n_splits, len(np.unique(groups))))
    # StratifiedGroupKFold warns when a class has fewer members than folds; the split is still valid.
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        folds = list(StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed).split(
            np.zeros(len(labels)), labels, groups))
    rest, held = folds[fold % n_splits]
    return np.sort(rest), np.sort(held)


def assign_splits(labels: Sequence[int], groups: Sequence[str], params: SplitParams, seed: int) -> list[str]:
    """Return ``"train" | "val" | "test"`` for each item; no group straddles two splits."""
    y = np.asarray(labels)
    g = np.asarray(groups)
    n = len(y)
    out = np.array(["train"] * n, dtype=object)
    if n == 0:
        return []
    if params.method == "all":
        return ["test"] * n
    if params.method == "kfold":
        if params.fold >= params.folds:
            raise DataError(f"data.split.fold = {params.fold} but folds = {params.folds}: fold must be 0..{params.folds - 1}")
        rest, test = _one_fold(y, g, params.folds, params.fold, seed)
        test_fraction = 1.0 / params.folds
    elif params.method == "stratified":
        rest, test = (np.arange(n), np.array([], dtype=int))
        test_fraction = params.test
        if params.test > 0:
            rest, test = _one_fold(y, g, round(1 / params.test), 0, seed)
    else:  # "predefined" is handled by the data set itself
        raise DataError(f"split method {params.method!r} needs a data set with a predefined split")
    out[test] = "test"
    if params.val > 0 and len(rest) > 1:
        val_share = params.val / max(1e-9, 1.0 - test_fraction)
        r_rest, r_val = _one_fold(y[rest], g[rest], max(2, round(1 / val_share)), 0, seed + 1)
        out[rest[r_val]] = "val"
    return out.tolist()


def check_no_straddle(groups: Sequence[str], splits: Sequence[str]) -> list[str]:
    """Groups that appear in more than one split (empty when the split is honest)."""
    seen: dict[str, set[str]] = {}
    for grp, s in zip(groups, splits):
        seen.setdefault(grp, set()).add(s)
    return sorted(k for k, v in seen.items() if len(v) > 1)
