"""Bootstrap confidence intervals of the test metrics (percentile method, seeded).

Scoring 1000 resamples with :func:`compute_metrics` costs 10-50 s (library input checks dominate), so the
resamples are scored in one vectorized pass (:func:`resample_metrics`) from the same definitions;
``tests/metrics`` checks that every resample's value equals :func:`compute_metrics` on that resample.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .compute import resample_metrics
from .table import Metric

CHUNK = 200


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
    threshold: float | None = None,
    extra: Sequence[Metric] = (),
) -> dict[str, list[float | None]]:
    """``{metric: [low, high]}``: percentile intervals over ``resamples`` resamples of the cases
    (with replacement, same size; resample ``i`` uses the ``i``-th draw of ``default_rng(seed)``).
    Resamples where a metric is undefined (e.g. AUROC with one class drawn) are left out of that
    metric's interval; ``[None, None]`` when fewer than 10 are left. A ``threshold`` chosen on
    validation stays fixed over the resamples. ``extra``: plugin metrics."""
    labels = np.asarray(labels)
    probs = np.asarray(probs)
    n = len(labels)
    if resamples <= 0 or n < 2:
        return {}
    rng = np.random.default_rng(seed)
    idx = np.stack([rng.integers(0, n, n) for _ in range(resamples)])
    parts = [resample_metrics(labels, probs, idx[i:i + CHUNK], class_names, positive_class=positive_class,
                              calibration_bins=calibration_bins, threshold=threshold, extra=extra)
             for i in range(0, resamples, CHUNK)]
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
