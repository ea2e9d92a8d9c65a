"""``summary.json``: what a finished run reports, as a typed model every reader uses.

The model reads summaries written by earlier sharpreg versions and partial ones (a sweep's stand-ins):
every field has a default, and keys it does not know are ignored.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

Interval = list[float | None]
"""``[low, high]`` of a bootstrap interval (``[None, None]`` when undefined)"""


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class IntervalMethod(_Lenient):
    method: str = "percentile bootstrap over test cases"
    resamples: int = 0
    confidence: float = 0.95
    seed: int = 0


class Trend(_Lenient):
    """A per-step diagnostic over the run: its last epoch's mean and the mean over all epochs."""

    last: float | None = None
    mean: float | None = None


class ThresholdRecord(_Lenient):
    """The operating threshold chosen on the validation split (``eval.threshold``) and what it achieved
    there; test sensitivity and specificity at it are ``test.*_at_threshold``."""

    rule: str = "youden"
    value: float = 0.5
    val_sensitivity: float | None = None
    val_specificity: float | None = None
    val_n: int = 0
    target_sensitivity: float | None = None


class Summary(_Lenient):
    """The test metrics of the selected model with their intervals, the train − test gap, the sharpness
    diagnostics and the cost of a finished run; field order is the file's key order."""

    recipe: str = ""
    run: str = ""
    status: str = "complete"
    epochs_run: int | None = None
    epochs_planned: int | None = None
    stopped_early: bool = False
    best_epoch: int | None = None
    monitor: str = "auroc"
    best_val: float | None = None
    threshold: ThresholdRecord | None = None
    test: dict[str, float | None] = Field(default_factory=dict)
    test_ci: dict[str, Interval] = Field(default_factory=dict)
    ci: IntervalMethod = Field(default_factory=IntervalMethod)
    test_n: int | None = None
    train_eval: dict[str, float | None] = Field(default_factory=dict)
    generalization_gap: dict[str, float] = Field(default_factory=dict)
    train_final: dict[str, float | None] = Field(default_factory=dict)
    sharpness: dict[str, Trend] = Field(default_factory=dict)
    seconds: float | None = None
    train_seconds: float | None = None
    sessions: int = 1
    steps: int | None = None
    skipped_steps: int = 0
    passes_per_step: float | None = None
    rule: str = ""
    optimizer: str = ""
    model: str = ""
    arch: str | None = None
    dataset: str = ""
    data_fingerprint: str | None = None
    """the fingerprint of the images used (content and classes), where the data set tells it"""
    classes: list[str] = Field(default_factory=list)
    positive_class: str | None = None
    seed: int | None = None
    device: str = ""

    @property
    def model_label(self) -> str:
        """The architecture where the model plugin names one, else the plugin."""
        return self.arch or self.model or "?"

    def test_values(self) -> dict[str, float]:
        """The defined test metrics."""
        return {k: float(v) for k, v in self.test.items() if v is not None}


def finite_or_none(values: dict[str, Any]) -> dict[str, Any]:
    """NaN (an undefined metric) as None, which JSON can hold."""
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in values.items()}
