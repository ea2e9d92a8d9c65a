"""Parameter bases and contexts of the kinds beyond rules, optimizers, models and data sets: losses,
metrics, callbacks, radius schedules and commands. Import them from ``sharpreg.specs`` (or ``sharpreg``),
which re-exports them; they live here to keep ``specs.py`` small."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .params_base import PluginParams


class LossParams(PluginParams):
    """Base for loss parameters."""


@dataclass(frozen=True)
class LossContext:
    """What the core tells a loss factory besides its parameters."""

    num_classes: int
    class_counts: tuple[int, ...] | None = None
    """images per class in the training split; None when unknown (a model scored on another data set)"""


class MetricParams(PluginParams):
    """Base for metric parameters."""


class CallbackParams(PluginParams):
    """Base for callback parameters."""


@dataclass(frozen=True)
class CallbackContext:
    """What the core tells a callback factory: the run folder and the recipe's name."""

    run_path: Path
    recipe_name: str


class ScheduleParams(PluginParams):
    """Base for radius-schedule parameters (set in ``sharpness.rho_schedule = { name = ..., ... }``)."""


@dataclass(frozen=True)
class SchedulePlan:
    """What the core tells a radius schedule about the run."""

    lr_range: tuple[float, float] = (0.0, 0.0)
    """(smallest, largest) learning rate of the run's first parameter group"""
    total_steps: int | None = None
    """optimizer steps the run plans (None: unknown, e.g. in a user's own loop)"""


class CommandParams(PluginParams):
    """The parameter model of a command (commands take command-line arguments, not recipe keys)."""
