"""An operating threshold chosen on the validation split, for sensitivity and specificity on test.

A class-weighted model's arg-max decision is one arbitrary point of its ROC curve. A run therefore
also chooses a threshold on the positive class's probability from its **validation** predictions (by
the best epoch's model) and reports test sensitivity and specificity at that threshold: the test set
never moves the threshold.

Rules (``eval.threshold``):

* ``youden``: the threshold that maximizes Youden's J = sensitivity + specificity − 1 on validation
  (ties: the highest such threshold);
* ``sensitivity``: the highest threshold whose validation sensitivity reaches ``target_sensitivity``
  (the most specific threshold that keeps that sensitivity).

A case is called positive when its probability is at least the threshold (scikit-learn's
``roc_curve`` convention). Both rules pick from the thresholds ``roc_curve`` lists, i.e. observed
validation scores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

ThresholdRule = Literal["youden", "sensitivity"]


@dataclass(frozen=True)
class ThresholdChoice:
    """A threshold and what it achieved on the validation cases it was chosen on."""

    rule: ThresholdRule
    value: float
    val_sensitivity: float
    val_specificity: float
    val_n: int
    target_sensitivity: float | None = None


def choose_threshold(labels: np.ndarray, scores: np.ndarray, rule: ThresholdRule = "youden", *,
                     target_sensitivity: float = 0.9) -> ThresholdChoice | None:
    """The threshold on ``scores`` (the positive class's probability) chosen by ``rule`` on these
    validation cases (``labels`` true for the positive class); None when a class is missing."""
    from sklearn.metrics import roc_curve

    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    if y.all() or not y.any():
        return None
    fpr, tpr, thresholds = roc_curve(y, s, drop_intermediate=False)
    finite = np.isfinite(thresholds)  # the first entry (nothing called positive) is +inf
    fpr, tpr, thresholds = fpr[finite], tpr[finite], thresholds[finite]
    if rule == "youden":
        j = tpr - fpr  # thresholds decrease: the first maximum is the highest threshold (equal up to rounding)
        i = int(np.flatnonzero(j >= j.max() - 1e-12)[0])
    elif rule == "sensitivity":
        i = int(np.flatnonzero(tpr >= target_sensitivity - 1e-12)[0])  # tpr reaches 1 at the lowest score
    else:
        raise ValueError(f"unknown threshold rule {rule!r}")
    return ThresholdChoice(rule, float(thresholds[i]), float(tpr[i]), float(1.0 - fpr[i]), int(len(y)),
                           target_sensitivity if rule == "sensitivity" else None)
