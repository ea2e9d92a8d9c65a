"""WSAM (Yue et al., KDD 2023): minimise L + (gamma/(1−gamma))·sharpness; alpha = gamma/(1−gamma).

* ``decoupled = true`` (default, as the official code): the base optimizer steps with g, then
  w ← w − lr_t·alpha·(g_p − g), outside the base optimizer's preconditioning;
* ``decoupled = false``: the base optimizer steps with (1 − alpha) g + alpha g_p.

gamma = 0.5 (alpha = 1) is SAM. The official code clips the perturbed gradient before mixing; sharpreg
clips the final gradient given to the base optimizer (``train.clip_grad_norm``; 1.0 in the paper).
"""

from __future__ import annotations

import torch
from pydantic import Field

from sharpreg.engine import BaseRule, StepContext, l2_radius, sam_ascent

from ._params import RadiusParams


class WSAMParams(RadiusParams):
    """WSAM: rho 0.05, gamma 0.88–0.9 in the paper (0.8–0.95 recommended)."""

    gamma: float = Field(
        0.9, gt=0.0, lt=1.0, description="Weight of sharpness: the loss is L + gamma/(1−gamma) · sharpness."
    )
    decoupled: bool = Field(
        True,
        description="true: base step with g, then w -= lr·alpha·(g_p − g) (official code); false: base "
        "step with (1 − alpha) g + alpha g_p.",
    )


class WSAM(BaseRule):
    n_passes = 2
    radius = staticmethod(l2_radius)  # ‖e‖ = rho
    keeps_clean_grad = True  # g is needed in combine: no copy for the diagnostics

    def __init__(self, config: WSAMParams) -> None:
        super().__init__(config)
        self.alpha = config.gamma / (1.0 - config.gamma)
        self._sharpness: list[torch.Tensor] | None = None

    def ascent(self, ctx: StepContext, k: int) -> None:
        sam_ascent(ctx)

    def combine(self, ctx: StepContext) -> list[torch.Tensor]:
        g, gp = ctx.grads[0], ctx.grads[1]
        assert g is not None and gp is not None
        if not self.config.decoupled:
            torch._foreach_lerp_(g, gp, self.alpha)  # g + alpha (g_p − g)
            return g
        torch._foreach_sub_(gp, g)  # g_p − g, applied after the base step
        self._sharpness = gp
        return g

    def post_step(self, ctx: StepContext) -> None:
        if self._sharpness is None:
            return
        for lr, idx in ctx.lr_groups():
            torch._foreach_add_(
                [ctx.params[i] for i in idx], [self._sharpness[i] for i in idx], alpha=-lr * self.alpha
            )
        self._sharpness = None
