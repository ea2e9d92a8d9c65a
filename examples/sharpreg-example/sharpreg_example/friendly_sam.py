"""Friendly-SAM (Li, Zhou, Gong, Wang, Yan, CVPR 2024) as a sharpreg rule.

m ← lam·m + (1 − lam)·g;  e = rho (g − sigma·m) / ‖g − sigma·m‖;  the base step uses g_p = ∇L(w + e).
Subtracting the running mean of the gradient removes its "full-batch" component from the ascent.
"""

from __future__ import annotations

from typing import Any

import torch
from pydantic import Field

from sharpreg import RuleParams, RuleSpec
from sharpreg.engine import BaseRule, StepContext, l2_radius, ops


class FriendlySAMParams(RuleParams):
    """Friendly-SAM: rho 0.05–0.2, sigma 1, lam 0.9–0.95 in the paper."""

    rho: float = Field(0.1, ge=0.0, le=10.0, description="Perturbation radius rho.")
    sigma: float = Field(1.0, ge=0.0, le=2.0, description="How much of the gradient's running mean to remove.")
    lam: float = Field(0.9, ge=0.0, lt=1.0, description="Decay of the gradient's running mean m.")


class FriendlySAM(BaseRule):
    n_passes = 2
    radius = staticmethod(l2_radius)  # ‖e‖ = rho: the test kit checks it

    def __init__(self, config: FriendlySAMParams) -> None:
        super().__init__(config)
        self.momentum: list[torch.Tensor] | None = None

    def ascent(self, ctx: StepContext, k: int) -> None:
        p: FriendlySAMParams = self.config
        g = ctx.ascent_grads()
        ctx.clean_grad_norm()  # for the diagnostics, before g is released
        if self.momentum is None:
            self.momentum = [torch.zeros_like(t) for t in g]
        torch._foreach_lerp_(self.momentum, g, 1.0 - p.lam)  # m ← lam m + (1 − lam) g
        # the parameters are scratch space: d = g − sigma m, then w + rho d / ‖d‖
        torch._foreach_copy_(ctx.params, g)
        torch._foreach_add_(ctx.params, self.momentum, alpha=-p.sigma)
        scale = ctx.rho / (ops.global_norm(ctx.params) + ctx.eps)
        torch._foreach_mul_(ctx.params, scale.to(ctx.params[0].dtype))
        ctx.perturbation_norm = ops.global_norm(ctx.params)
        torch._foreach_add_(ctx.params, ctx.backup)
        ctx.grads[0] = None  # release g: the next backward reuses its tensors

    def combine(self, ctx: StepContext) -> list[torch.Tensor]:
        gp = ctx.grads[1]
        assert gp is not None
        return gp

    def state_dict(self) -> dict[str, Any]:
        return {"momentum": self.momentum}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        m = state.get("momentum")
        self.momentum = [t.clone() for t in m] if m is not None else None


SPEC = RuleSpec(
    "friendly_sam",
    FriendlySAMParams,
    FriendlySAM,
    "Friendly-SAM: the ascent ignores the running mean of the gradient.",
    citation="Li, Zhou, Gong, Wang, Yan. Friendly Sharpness-Aware Minimization. CVPR 2024. arXiv:2403.12350",
)
