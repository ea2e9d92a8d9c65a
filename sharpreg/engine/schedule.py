"""The perturbation radius of each step, as the engine asks for it.

The engine knows no schedule by name: it calls ``rho_schedule.rho(step, lr)`` before every step. Schedules
are plugins (``ScheduleSpec``, chosen by ``sharpness.rho_schedule`` in a recipe); sharpreg's own are
``constant`` and ``lr`` (GSAM's ρ_t). Without one, the engine keeps the rule's ``rho`` constant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ..errors import SharpregError
from ..specs import EngineParams, RuleParams


@runtime_checkable
class RhoSchedule(Protocol):
    """What a ``ScheduleSpec.factory(config, rule_config, plan)`` returns."""

    def rho(self, step: int, lr: float) -> float:
        """The radius of optimizer step ``step`` (0-based) at the base optimizer's learning rate ``lr``
        (that of its first parameter group). A pure function of its arguments (resume relies on it)."""
        ...


@dataclass(frozen=True)
class ConstantRho:
    """rho at every step."""

    value: float

    def rho(self, step: int, lr: float) -> float:
        return self.value


def default_schedule(config: EngineParams) -> RhoSchedule | None:
    """The schedule the engine uses when given none: ``None`` for a rule without a radius, the rule's
    constant ``rho`` when it asks for ``rho_schedule = "constant"``, else a clear error."""
    if not isinstance(config, RuleParams):
        return None
    name = config.rho_schedule_name()
    if name != "constant":
        raise SharpregError(
            f"rho_schedule = {name!r} is a schedule plugin: pass SharpnessStep(rho_schedule=...), e.g. "
            f"sharpreg.build.build_rho_schedule(config, SchedulePlan(lr_range=(lr_min, lr_max))), or set "
            "rho_schedule = \"constant\"")
    return ConstantRho(float(config.rho))
