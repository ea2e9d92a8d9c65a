"""Bootstrap confidence intervals of the test metrics (percentile method, seeded)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import sklearn

from .metrics import compute_metrics


def bootstrap_intervals(
    labels: np.ndarray,
    probs: np.ndarray,
    class_names: list[str],
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    **metric_options: Any,
) -> dict[str, list[float | None]]:
    """``{metric: [low, high]}``: percentile intervals over ``resamples`` resamples of the cases
    (with replacement, same size). Each resample is scored by :func:`compute_metrics`, the function
    that gives the point estimates; resamples where a metric is undefined (e.g. AUROC with one class
    drawn) are left out of that metric's interval. ``[None, None]`` when fewer than 10 are left."""
    labels = np.asarray(labels)
    probs = np.asarray(probs)
    n = len(labels)
    if resamples <= 0 or n < 2:
        return {}
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {}
    with sklearn.config_context(skip_parameter_validation=True, assume_finite=True), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(resamples):
            idx = rng.integers(0, n, n)
            for k, v in compute_metrics(labels[idx], probs[idx], class_names, **metric_options).items():
                draws.setdefault(k, []).append(v)
    alpha = (1 - confidence) / 2
    out: dict[str, list[float | None]] = {}
    for k, values in draws.items():
        arr = np.asarray(values, dtype=np.float64)
        arr = arr[np.isfinite(arr)]
        if len(arr) < 10:
            out[k] = [None, None]
        else:
            lo, hi = np.quantile(arr, [alpha, 1 - alpha])
            out[k] = [float(lo), float(hi)]
    return out
