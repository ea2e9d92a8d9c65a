"""The perturbation radius of each step: constant, or following the learning rate (GSAM's rho_t)."""

from __future__ import annotations

from dataclasses import dataclass

from ..specs import RuleParams


@dataclass(frozen=True)
class RhoSchedule:
    """``rho_schedule = "constant"`` keeps rho; ``"lr"`` moves it between ``rho_min`` and ``rho`` in
    proportion to the learning rate within ``lr_range`` = (smallest, largest learning rate)."""

    config: RuleParams
    lr_range: tuple[float, float]

    def rho(self, lr: float) -> float:
        cfg = self.config
        lr_min, lr_max = self.lr_range
        if cfg.rho_schedule != "lr" or lr_max <= lr_min:
            return float(cfg.rho)
        return max(0.0, cfg.rho_min + (cfg.rho - cfg.rho_min) * (lr - lr_min) / (lr_max - lr_min))
