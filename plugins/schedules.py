"""First-party radius schedules: ``constant`` and ``lr`` (rho proportional to the learning rate, GSAM's rho_t)."""

from __future__ import annotations

from dataclasses import dataclass

from sharpreg import RuleParams, ScheduleParams, SchedulePlan, ScheduleSpec, hookimpl
from sharpreg.engine import ConstantRho


class ConstantParams(ScheduleParams):
    """No parameters: rho is the rule's ``rho`` at every step."""


class LrParams(ScheduleParams):
    """No parameters of its own: the rule's ``rho`` and ``rho_min`` bound the radius."""


def constant(config: ConstantParams, rule: RuleParams, plan: SchedulePlan) -> ConstantRho:
    return ConstantRho(float(rule.rho))


@dataclass(frozen=True)
class LrProportional:
    """rho_t = rho_min + (rho − rho_min)(lr_t − lr_min)/(lr_max − lr_min), never below 0 (Zhuang et al.,
    ICLR 2022, where it follows the learning-rate schedule); rho when the learning rate never changes."""

    rho_max: float
    rho_min: float
    lr_range: tuple[float, float]

    def rho(self, step: int, lr: float) -> float:
        lr_min, lr_max = self.lr_range
        if lr_max <= lr_min:
            return self.rho_max
        return max(0.0, self.rho_min + (self.rho_max - self.rho_min) * (lr - lr_min) / (lr_max - lr_min))


def lr_proportional(config: LrParams, rule: RuleParams, plan: SchedulePlan) -> LrProportional:
    return LrProportional(float(rule.rho), float(rule.rho_min), plan.lr_range)


@hookimpl
def sharpreg_rho_schedules() -> list[ScheduleSpec]:
    return [
        ScheduleSpec("constant", ConstantParams, constant, "rho at every step."),
        ScheduleSpec("lr", LrParams, lr_proportional,
                     "rho moves between rho_min and rho in proportion to the learning rate (GSAM's rho_t).",
                     citation="Zhuang et al. Surrogate Gap Guided Sharpness-Aware Minimization. ICLR 2022. "
                     "arXiv:2203.08065"),
    ]
