"""GSAM (Zhuang et al., ICLR 2022): d = g_p − alpha g_⊥ with g_⊥ = g − (⟨g, g_p⟩/‖g_p‖²) g_p.

The ascent is SAM's. rho follows the learning rate by default (``rho_schedule = "lr"``):
rho_t = rho_min + (rho − rho_min)(lr_t − lr_min)/(lr_max − lr_min). alpha = 0 with rho_min = rho is SAM.
"""

from __future__ import annotations

from typing import Any

import torch
from pydantic import Field

from sharpreg.engine import BaseRule, StepContext, l2_radius, sam_ascent
from sharpreg.engine import ops

from ._params import RadiusParams


class GSAMParams(RadiusParams):
    """GSAM: the paper's ViT/ImageNet setting is rho 0.6, rho_min 0.1, alpha 0.6 (Adam); sharpreg's
    defaults (rho 0.05, rho_min 0.01, alpha 0.4) are its own for small medical data sets."""

    rho_schedule: str | dict[str, Any] = Field(
        "lr",
        description="The radius schedule: 'lr' (default, as GSAM) moves rho between rho_min and rho with the "
        "learning rate; 'constant' keeps rho fixed; or another schedule plugin (`sharpreg list schedules`).",
    )
    rho_min: float = Field(0.01, ge=0.0, le=10.0, description="Radius at the smallest learning rate (GSAM's rho_min).")
    alpha: float = Field(
        0.4, ge=0.0, le=1.0, description="Weight of the surrogate-gap term: d = g_p − alpha g_⊥ (0.1–0.6 in the paper)."
    )


class GSAM(BaseRule):
    n_passes = 2
    radius = staticmethod(l2_radius)  # ‖e‖ = rho
    keeps_clean_grad = True  # g is needed in combine: no copy for the diagnostics

    def ascent(self, ctx: StepContext, k: int) -> None:
        sam_ascent(ctx)  # keeps g: the decomposition needs it

    def combine(self, ctx: StepContext) -> list[torch.Tensor]:
        g, gp = ctx.grads[0], ctx.grads[1]
        assert g is not None and gp is not None
        # the engine's diagnostics already hold both products (unless stale after a DDP average)
        g_dot_gp, gp_sq = ctx.g_dot_gp, ctx.gp_sq
        if g_dot_gp is None or gp_sq is None:  # the engine did not take them (log_cos_g_gp off, or DDP)
            g_dot_gp, gp_sq = ops.dot_and_square(g, gp)
        c = float(g_dot_gp / torch.clamp_min(gp_sq, ctx.eps))
        torch._foreach_add_(g, gp, alpha=-c)  # g_⊥ (exactly 0 when g == g_p)
        torch._foreach_add_(gp, g, alpha=-self.config.alpha)
        return gp
