"""Bootstrap confidence intervals of the test metrics (percentile method, seeded).

Scoring 1000 resamples with :func:`compute_metrics` costs 10-50 s (library input checks dominate),
so the resamples are scored here in one vectorized pass, from the same definitions: confusion
counts (accuracy, balanced accuracy, macro F1, per-class sensitivity/specificity), rank-based
AUROC (binary, one-vs-rest macro) and torchmetrics' ECE binning. ``tests/evaluation`` checks that
every resample's value equals :func:`compute_metrics` on that resample.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from scipy.stats import rankdata

from .metrics import positive_of

CHUNK = 200


def resample_metrics(labels: np.ndarray, probs: np.ndarray, idx: np.ndarray, class_names: list[str], *,
                     positive_class: str | None = "malignant", calibration_bins: int = 15) -> dict[str, np.ndarray]:
    """The metrics of :func:`compute_metrics` for each row of ``idx`` (B×n indices into the cases)."""
    k = len(class_names)
    n_b, n = idx.shape
    y = np.asarray(labels, dtype=np.int64)[idx]
    p = np.asarray(probs, dtype=np.float64)[idx]
    pred = p.argmax(axis=2)
    flat = (np.arange(n_b)[:, None] * k * k + y * k + pred).ravel()
    cm = np.bincount(flat, minlength=n_b * k * k).reshape(n_b, k, k).astype(np.float64)
    tp = np.diagonal(cm, axis1=1, axis2=2)
    true_n = cm.sum(axis=2)
    pred_n = cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        sens = tp / true_n
        fp = pred_n - tp
        tn = n - true_n - fp
        spec = tn / (tn + fp)
        out: dict[str, np.ndarray] = {"accuracy": tp.sum(axis=1) / n, "balanced_accuracy": np.nanmean(sens, axis=1)}
        denom = 2 * tp + fp + (true_n - tp)
        out["f1_macro"] = np.where(denom > 0, 2 * tp / np.where(denom > 0, denom, 1), 0.0).mean(axis=1)
    out["auroc"] = _auroc(y, p, k)
    pos = positive_of(class_names, positive_class)
    c = class_names.index(pos)
    out["sensitivity"], out["specificity"] = sens[:, c], spec[:, c]
    out["ece"] = _ece(y, p, calibration_bins)
    for name in [pos] + [x for x in class_names if x != pos]:
        j = class_names.index(name)
        out[f"sensitivity_{name}"], out[f"specificity_{name}"] = sens[:, j], spec[:, j]
    return out


def _binary_auc(score: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """Mann-Whitney AUC per row (ties count half); NaN where a row has one class only."""
    n1 = positive.sum(axis=1)
    n0 = positive.shape[1] - n1
    ranks = rankdata(score, axis=1)
    u = (ranks * positive).sum(axis=1) - n1 * (n1 + 1) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((n1 > 0) & (n0 > 0), u / (n1 * n0), np.nan)


def _auroc(y: np.ndarray, p: np.ndarray, k: int) -> np.ndarray:
    if k == 2:
        return _binary_auc(p[:, :, 1], y == 1)
    per_class = np.stack([_binary_auc(p[:, :, c], y == c) for c in range(k)], axis=1)
    return per_class.mean(axis=1)  # NaN when a class is absent, like compute_metrics


def _ece(y: np.ndarray, p: np.ndarray, bins: int) -> np.ndarray:
    """torchmetrics' L1 calibration error: top-1 confidence, bins [b_i, b_i+1) of linspace(0, 1)."""
    p32 = p.astype(np.float32)
    conf = p32.max(axis=2)
    correct = (p32.argmax(axis=2) == y).astype(np.float64)
    edges = torch.linspace(0, 1, bins + 1).numpy()
    which = np.searchsorted(edges, conf, side="right") - 1
    n_b, n = y.shape
    slots = bins + 1
    flat = (np.arange(n_b)[:, None] * slots + which).ravel()
    count = np.bincount(flat, minlength=n_b * slots).reshape(n_b, slots)
    conf_sum = np.bincount(flat, weights=conf.astype(np.float64).ravel(), minlength=n_b * slots).reshape(n_b, slots)
    acc_sum = np.bincount(flat, weights=correct.ravel(), minlength=n_b * slots).reshape(n_b, slots)
    safe = np.maximum(count, 1)
    return (np.abs(acc_sum / safe - conf_sum / safe) * count / n).sum(axis=1)


def bootstrap_intervals(
    labels: np.ndarray,
    probs: np.ndarray,
    class_names: list[str],
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    positive_class: str | None = "malignant",
    calibration_bins: int = 15,
) -> dict[str, list[float | None]]:
    """``{metric: [low, high]}``: percentile intervals over ``resamples`` resamples of the cases
    (with replacement, same size; resample ``i`` uses the ``i``-th draw of ``default_rng(seed)``).
    Resamples where a metric is undefined (e.g. AUROC with one class drawn) are left out of that
    metric's interval; ``[None, None]`` when fewer than 10 are left."""
    labels = np.asarray(labels)
    probs = np.asarray(probs)
    n = len(labels)
    if resamples <= 0 or n < 2:
        return {}
    rng = np.random.default_rng(seed)
    idx = np.stack([rng.integers(0, n, n) for _ in range(resamples)])
    parts = [resample_metrics(labels, probs, idx[i:i + CHUNK], class_names, positive_class=positive_class,
                              calibration_bins=calibration_bins) for i in range(0, resamples, CHUNK)]
    alpha = (1 - confidence) / 2
    out: dict[str, list[float | None]] = {}
    for key in parts[0]:
        arr = np.concatenate([p[key] for p in parts])
        arr = arr[np.isfinite(arr)]
        if len(arr) < 10:
            out[key] = [None, None]
        else:
            lo, hi = np.quantile(arr, [alpha, 1 - alpha])
            out[key] = [float(lo), float(hi)]
    return out
