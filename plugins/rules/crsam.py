"""CR-SAM (Wu, Luo, Wunsch, AAAI 2024): three passes, at w, w + e and w − e with e = rho g₀/‖g₀‖.

d = g₊ + gamma (g₊ + g₋ − 2 g₀) + beta (g₊ − g₋): the gamma term is the finite-difference gradient
of the curvature along g (a one-probe Hessian-trace proxy), the beta term that of the gradient norm.
BatchNorm statistics come from the clean pass only (the official script lets its third pass update
them; set ``bn_stats = "both"`` to reproduce that).
"""

from __future__ import annotations

import torch
from pydantic import Field

from sharpreg.engine import BaseRule, StepContext, l2_radius, sam_ascent

from ._params import RadiusParams


class CRSAMParams(RadiusParams):
    """CR-SAM: the official script uses rho 0.1, gamma 0.1, beta 0.01 (its class default beta is 0.1)."""

    rho: float = Field(0.1, ge=0.0, le=10.0, description="Perturbation radius rho.")
    gamma: float = Field(0.1, ge=0.0, le=10.0, description="Weight of the curvature term g₊ + g₋ − 2 g₀.")
    beta: float = Field(0.01, ge=0.0, le=10.0, description="Weight of the gradient-norm term g₊ − g₋.")


class CRSAM(BaseRule):
    n_passes = 3
    radius = staticmethod(l2_radius)  # ‖e‖ = rho
    keeps_clean_grad = True  # g is needed in combine: no copy for the diagnostics

    def ascent(self, ctx: StepContext, k: int) -> None:
        sam_ascent(ctx, sign=1.0 if k == 1 else -1.0)

    def combine(self, ctx: StepContext) -> list[torch.Tensor]:
        g0, gplus, gminus = ctx.grads
        assert g0 is not None and gplus is not None and gminus is not None
        gamma, beta = self.config.gamma, self.config.beta
        # d = g₊ + (gamma + beta)(g₊ − g₀) + (gamma − beta)(g₋ − g₀), in three sweeps, written so that
        # g₀ == g₊ == g₋ gives exactly g₊ (rho = 0 is the base optimizer, bit for bit)
        if gamma == 0:
            torch._foreach_sub_(gminus, gplus)  # g₋ − g₊
            torch._foreach_add_(gplus, gminus, alpha=-beta)
            return gplus
        # m = lerp(g₋, g₊, t) with t = (gamma + beta)/(2 gamma): 2 gamma m = (gamma + beta) g₊ + (gamma − beta) g₋
        torch._foreach_lerp_(gminus, gplus, (gamma + beta) / (2 * gamma))
        torch._foreach_sub_(gminus, g0)
        torch._foreach_add_(gplus, gminus, alpha=2 * gamma)
        return gplus
