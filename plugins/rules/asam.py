"""ASAM (Kwon et al., ICML 2021): T_w = |w| + eta; e = rho T_w² g / (‖T_w g‖ + eps).

Two readings exist, both offered by ``scope``:

* ``weights_only`` (default, the official code's intent): only weight tensors (``ndim >= 2``: conv
  and linear kernels) are scaled by T_w; biases and normalization parameters use T = 1. The official
  code selects by the substring 'weight' in the parameter name, which also scales normalization
  weights; sharpreg selects by shape (the engine sees tensors, not names). Use eta = 0.01, rho 0.5
  (CIFAR-10) to 1.0 (CIFAR-100).
* ``all``: every tensor is scaled, usually with eta = 0 (a popular re-implementation); rho then means
  something else (2.0 there for what is 0.5 above).
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field

from sharpreg.engine import BaseRule, StepContext
from sharpreg.engine import ops

from ._params import RadiusParams


class ASAMParams(RadiusParams):
    """ASAM: rho 0.5 and eta 0.01 (the official CIFAR-10 setting)."""

    rho: float = Field(0.5, ge=0.0, le=10.0, description="Perturbation radius rho (in the T_w-scaled geometry).")
    eta: float = Field(0.01, ge=0.0, le=1.0, description="Added to |w| in T_w = |w| + eta.")
    scope: Literal["weights_only", "all"] = Field(
        "weights_only",
        description="Which tensors T_w scales: 'weights_only' (conv/linear kernels, ndim >= 2; the "
        "official code's intent, with eta) or 'all' (every tensor, usually with eta = 0).",
    )


class ASAM(BaseRule):
    n_passes = 2

    def ascent(self, ctx: StepContext, k: int) -> None:
        p: ASAMParams = self.config
        g = ctx.ascent_grads()
        ctx.clean_grad_norm()  # for the diagnostics, before g is scaled in place and released
        scoped = [i for i, w in enumerate(ctx.params) if p.scope == "all" or w.dim() >= 2]
        ps = [ctx.params[i] for i in scoped]
        gs = [g[i] for i in scoped]
        if ps:
            # T = |w| + eta, written into the (scoped) parameters as scratch space
            if not ctx.at_backup:
                torch._foreach_copy_(ps, [ctx.backup[i] for i in scoped])
            torch._foreach_abs_(ps)
            torch._foreach_add_(ps, p.eta)
            torch._foreach_mul_(gs, ps)  # T g (g is released below, so it may be scaled in place)
        norm = float(ops.global_norm(g))  # ‖T g‖ (T = 1 outside the scope)
        if ps:
            torch._foreach_mul_(gs, ps)  # T² g
        scale = ctx.rho / (norm + ctx.eps)
        ops.write_perturbation(ctx.params, ctx.backup, g, scale)
        ctx.at_backup = False
        ctx.perturbation_norm = scale * float(ops.global_norm(g))
        ctx.grads[0] = None

    def combine(self, ctx: StepContext) -> list[torch.Tensor]:
        gp = ctx.grads[1]
        assert gp is not None
        return gp
