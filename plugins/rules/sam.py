"""SAM (Foret et al., ICLR 2021): e = rho g / (‖g‖ + eps); the base step uses g_p = ∇L(w + e).

The clean gradient is released right after the ascent, so the rule holds one weight-sized buffer
(the engine's backup of w) beyond the gradient of the current pass.
"""

from __future__ import annotations

import torch

from sharpreg.engine import BaseRule, StepContext, l2_radius, sam_ascent

from ._params import RadiusParams


class SAMParams(RadiusParams):
    """SAM: rho 0.05 (CIFAR-10) or 0.1 (CIFAR-100) in the paper."""


class SAM(BaseRule):
    n_passes = 2
    radius = staticmethod(l2_radius)  # ‖e‖ = rho

    def ascent(self, ctx: StepContext, k: int) -> None:
        sam_ascent(ctx)
        ctx.grads[0] = None  # g is no longer needed: the next backward reuses its tensors

    def combine(self, ctx: StepContext) -> list[torch.Tensor]:
        gp = ctx.grads[1]
        assert gp is not None
        return gp
