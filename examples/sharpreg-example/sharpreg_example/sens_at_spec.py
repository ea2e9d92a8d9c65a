"""Sensitivity at a fixed specificity: the true-positive rate of the positive class at the best threshold whose
false-positive rate is at most 1 − specificity, read off the ROC curve of the scored cases (so the threshold is
set on the same cases; it is a property of the ranking, as AUROC is)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from pydantic import Field
from sklearn.metrics import roc_curve

from sharpreg import MetricParams, MetricSpec
from sharpreg.metrics import Cases


class SensAtSpecParams(MetricParams):
    specificity: float = Field(0.9, gt=0.0, lt=1.0, description="The specificity the sensitivity is read at.")


def sens_at_spec(config: SensAtSpecParams) -> Callable[[Cases], float]:
    def score(cases: Cases) -> float:
        positive = cases.labels == cases.positive
        if positive.all() or not positive.any():
            return float("nan")  # undefined with one class
        fpr, tpr, _ = roc_curve(positive, cases.probs[:, cases.positive])
        return float(np.max(tpr[fpr <= 1.0 - config.specificity + 1e-12]))

    return score


SPEC = MetricSpec("sens_at_spec", SensAtSpecParams, sens_at_spec,
                  "Sensitivity of the positive class at a fixed specificity (0.9 by default).",
                  task="binary", label="sensitivity at fixed specificity")
