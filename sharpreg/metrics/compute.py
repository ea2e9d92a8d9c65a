"""Scoring predictions with the metric table: one set of cases, or bootstrap resamples at once."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from .definitions import Cases, Resamples
from .table import METRICS, Metric, gap_names


def positive_of(class_names: list[str], positive_class: str | None) -> str:
    """The class whose sensitivity/specificity is reported first: ``positive_class`` or the last class."""
    return positive_class if positive_class in class_names else class_names[-1]


def _scored(k: int, threshold: float | None, extra: Sequence[Metric] = ()) -> list[Metric]:
    """The built-in metrics, then the plugin metrics ``extra``, that apply to ``k`` classes (and the threshold)."""
    return [m for m in (*METRICS, *extra) if m.score is not None and m.applies(k, threshold)]


def _named(values: dict[str, np.ndarray | float], metrics: list[Metric], class_names: list[str],
           pos: str) -> Iterator[tuple[str, object]]:
    """Table order; per-class metrics under their plain name (the positive class), then every class's
    values under ``<name>_<class>``, the positive class first."""
    c = class_names.index(pos)
    for m in metrics:
        v = values[m.name]
        yield m.name, (v[..., c] if m.per_class else v)
    per_class = [m for m in metrics if m.per_class]
    for name in [pos] + [x for x in class_names if x != pos]:
        j = class_names.index(name)
        for m in per_class:
            yield f"{m.name}_{name}", values[m.name][..., j]


def compute_metrics(labels: np.ndarray, probs: np.ndarray, class_names: list[str], *,
                    positive_class: str | None = "malignant", calibration_bins: int = 15,
                    threshold: float | None = None, extra: Sequence[Metric] = ()) -> dict[str, float]:
    """Every metric of the table that predictions define, from the libraries (scikit-learn,
    torchmetrics); per-class sensitivity and specificity for every class, ``positive_class`` first.
    With ``threshold`` (on the positive class's probability, chosen on validation) also the metrics
    at that operating point; then the plugin metrics ``extra``."""
    labels = np.asarray(labels, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    pos = positive_of(class_names, positive_class)
    cases = Cases(labels, probs, class_names.index(pos), calibration_bins, threshold)
    metrics = _scored(len(class_names), threshold, extra)
    values = {m.name: m.score(cases) for m in metrics}  # type: ignore[misc]
    return {k: float(v) for k, v in _named(values, metrics, class_names, pos)}  # type: ignore[arg-type]


def resample_metrics(labels: np.ndarray, probs: np.ndarray, idx: np.ndarray, class_names: list[str], *,
                     positive_class: str | None = "malignant", calibration_bins: int = 15,
                     threshold: float | None = None, extra: Sequence[Metric] = ()) -> dict[str, np.ndarray]:
    """The metrics of :func:`compute_metrics` for each row of ``idx`` (B×n indices into the cases)."""
    y = np.asarray(labels, dtype=np.int64)[idx]
    p = np.asarray(probs, dtype=np.float64)[idx]
    pos = positive_of(class_names, positive_class)
    c = class_names.index(pos)
    resamples = Resamples(y, p, c, calibration_bins, threshold)
    metrics = _scored(len(class_names), threshold, extra)
    values: dict[str, np.ndarray] = {}
    for m in metrics:
        if m.batched is not None:
            values[m.name] = np.asarray(m.batched(resamples), dtype=np.float64)
        else:  # no vectorized form: the plain definition, resample by resample
            values[m.name] = np.stack([np.asarray(m.score(Cases(y[b], p[b], c, calibration_bins, threshold)),  # type: ignore[misc]
                                                  dtype=np.float64) for b in range(len(idx))])
    return dict(_named(values, metrics, class_names, pos))  # type: ignore[arg-type]


def generalization_gap(train: dict[str, float], test: dict[str, float], extra: Sequence[Metric] = ()) -> dict[str, float]:
    """Train minus test, for every gap metric both have, plugin metrics ``extra`` included (positive = better
    on train, except where lower is better)."""
    return {k: float(train[k]) - float(test[k]) for k in gap_names() + [m.name for m in extra if m.gap]
            if k in train and k in test and np.isfinite(train[k]) and np.isfinite(test[k])}
