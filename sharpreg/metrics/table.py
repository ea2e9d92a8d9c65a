"""The one metric table: every metric sharpreg reports, with what the rest of the code needs to know.

Monitors (``train.monitor``), the bootstrap, ``compare``, the sweep aggregate and every report read this
table; adding a built-in metric is one :class:`Metric` entry (plus its functions in ``definitions.py``).
Plugin metrics (``MetricSpec``, listed in a recipe's ``[[metrics]]``) become entries of the same type
(``metrics/plugins.py``); :func:`metric_of` finds installed ones by name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from . import definitions as d
from .definitions import Cases, Resamples

Better = Literal["higher", "lower"]
Task = Literal["any", "binary", "multiclass"]


@dataclass(frozen=True)
class Metric:
    """One metric. ``score`` computes it on one set of cases (``None``: measured by the evaluation step
    itself, as the loss is); ``batched`` on B bootstrap resamples at once (``None``: ``score`` is looped
    over the resamples). A ``per_class`` metric returns one value per class: its plain name reports the
    positive class and ``<name>_<class>`` every class."""

    name: str
    label: str
    """readable name for plots and reports"""
    short: str
    """column header in narrow tables"""
    better: Better
    gap: bool
    """whether the train − test gap is reported"""
    score: Callable[[Cases], float | np.ndarray] | None
    batched: Callable[[Resamples], np.ndarray] | None = None
    task: Task = "any"
    per_class: bool = False
    compare: bool = False
    """a default column of ``sharpreg compare``"""
    needs_threshold: bool = False
    """defined only at an operating threshold chosen on the validation split (see ``metrics.threshold``)"""

    def applies(self, n_classes: int, threshold: float | None = None) -> bool:
        """Whether the metric is defined for ``n_classes`` classes (and, if it needs one, a threshold)."""
        if self.needs_threshold and threshold is None:
            return False
        return self.task == "any" or (self.task == "binary") == (n_classes == 2)


#: in the order every table shows them
METRICS: tuple[Metric, ...] = (
    Metric("auroc", "AUROC", "AUROC", "higher", True, d.auroc, d.auroc_b, compare=True),
    Metric("balanced_accuracy", "balanced accuracy", "bal. acc.", "higher", True, d.balanced_accuracy,
           d.balanced_accuracy_b, compare=True),
    Metric("accuracy", "accuracy", "acc.", "higher", True, d.accuracy, d.accuracy_b),
    Metric("f1_macro", "macro F1", "macro F1", "higher", True, d.f1_macro, d.f1_macro_b, compare=True),
    Metric("sensitivity", "sensitivity", "sens.", "higher", True, d.sensitivity, d.sensitivity_b,
           per_class=True, compare=True),
    Metric("specificity", "specificity", "spec.", "higher", True, d.specificity, d.specificity_b,
           per_class=True, compare=True),
    Metric("sensitivity_at_threshold", "sensitivity at the validation threshold", "sens.@thr", "higher", False,
           d.sensitivity_at_threshold, d.sensitivity_at_threshold_b, task="binary", compare=True,
           needs_threshold=True),
    Metric("specificity_at_threshold", "specificity at the validation threshold", "spec.@thr", "higher", False,
           d.specificity_at_threshold, d.specificity_at_threshold_b, task="binary", compare=True,
           needs_threshold=True),
    Metric("brier", "Brier score", "Brier", "lower", True, d.brier, d.brier_b, compare=True),
    Metric("ece", "ECE", "ECE", "lower", True, d.ece, d.ece_b, compare=True),
    Metric("loss", "loss", "loss", "lower", True, None),
)
_BY_NAME = {m.name: m for m in METRICS}


def metric_of(name: str) -> Metric | None:
    """The entry of ``name``, also of a per-class name such as ``sensitivity_benign``, and of an installed
    plugin metric."""
    if name in _BY_NAME:
        return _BY_NAME[name]
    found = next((m for m in METRICS if m.per_class and name.startswith(m.name + "_")), None)
    if found is None:
        from .plugins import installed

        found = installed(name)
    return found


def names() -> list[str]:
    return [m.name for m in METRICS]


def monitor_choices() -> list[str]:
    """What ``train.monitor`` may name: every metric with one value per evaluation (none that needs a
    threshold chosen on the validation split it would select on)."""
    return [m.name for m in METRICS if not m.needs_threshold]


def lower_is_better(name: str) -> bool:
    m = metric_of(name)
    return m is not None and m.better == "lower"


def lower_is_better_names() -> list[str]:
    return [m.name for m in METRICS if m.better == "lower"]


def gap_names() -> list[str]:
    return [m.name for m in METRICS if m.gap]


def compare_defaults() -> list[str]:
    return [m.name for m in METRICS if m.compare]


def label(name: str) -> str:
    m = _BY_NAME.get(name) or metric_of(name)
    return m.label if m and m.name == name else name.replace("_", " ")


def short(name: str) -> str:
    m = _BY_NAME.get(name) or metric_of(name)
    return m.short if m and m.name == name else name


def ordered(found: list[str]) -> list[str]:
    """``found`` metric names, the table's ones first in table order, then the others as found."""
    return [n for n in names() if n in found] + [n for n in found if n not in _BY_NAME]
