"""LookSAM (Liu, Mai, Chen, Hsieh, You; CVPR 2022): a full SAM step every k steps, one pass between.

On a SAM step (``step % k == 0``, or whenever no component is stored yet): e = rho g/‖g‖,
g_s = ∇L(w + e); the base optimizer steps with g_s and the rule keeps g_v = g_s − (⟨g, g_s⟩/‖g‖²) g,
the part of g_s orthogonal to g. On the k − 1 steps in between the engine runs one pass and the base
optimizer steps with d = g + alpha (‖g‖/‖g_v‖) g_v.

Following the paper (its Algorithm 1): the period k, the SAM gradient g_s as the update of SAM steps,
the orthogonal component g_v and the reuse step's scale ‖g‖/‖g_v‖, all over the whole parameter
vector (``scope = "global"``, the default). We found no code released by the authors. The public
implementations (pytorch-optimizer's ``LookSAM`` and the unofficial repositories it follows) project
and rescale each tensor separately, and add 1e-8 to ‖g_v‖; ``scope = "per_tensor"`` with
``eps = 1e-8`` reproduces them. They also run a second forward/backward pass on every step (its
gradient, taken at w, is discarded on reuse steps); here the engine runs one pass on reuse steps.

The rule holds g_v between SAM steps: one weight-sized buffer, checkpointed with the rule's state.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import Field

from sharpreg.engine import BaseRule, StepContext, l2_radius, sam_ascent
from sharpreg.engine import ops

from ._params import RadiusParams


class LookSAMParams(RadiusParams):
    """LookSAM: sharpreg's defaults are rho 0.05 (as its SAM), k 5 and alpha 0.7; pytorch-optimizer's
    are rho 0.1, k 10, alpha 0.7."""

    k: int = Field(5, ge=1, le=1000, description="A full SAM step every k steps (k = 1 is SAM).")
    alpha: float = Field(
        0.7, ge=0.0, le=10.0, description="Weight of the stored component on reuse steps: d = g + alpha (‖g‖/‖g_v‖) g_v."
    )
    scope: Literal["global", "per_tensor"] = Field(
        "global",
        description="'global': project and rescale over the whole parameter vector (the paper); "
        "'per_tensor': each tensor on its own (pytorch-optimizer and the unofficial code).",
    )


class LookSAM(BaseRule):
    config: LookSAMParams
    radius = staticmethod(l2_radius)  # ‖e‖ = rho on its SAM steps
    keeps_clean_grad = True  # g is needed in combine: no copy for the diagnostics

    def __init__(self, config: LookSAMParams) -> None:
        super().__init__(config)
        self._gv: list[torch.Tensor] | None = None
        self._gv_norm: torch.Tensor | None = None  # 0-dim ('global') or one norm per tensor

    def passes(self, step: int) -> int:
        return 2 if self._gv is None or step % self.config.k == 0 else 1

    def ascent(self, ctx: StepContext, k: int) -> None:
        sam_ascent(ctx)  # keeps g: the decomposition needs it

    def combine(self, ctx: StepContext) -> list[torch.Tensor]:
        g = ctx.grads[0]
        assert g is not None
        if len(ctx.grads) == 2:
            gs = ctx.grads[1]
            assert gs is not None
            self._store_orthogonal(ctx, g, gs)
            return gs
        self._move_to(g[0].device)
        assert self._gv is not None and self._gv_norm is not None
        a, eps = self.config.alpha, ctx.eps
        if self.config.scope == "global":
            scale = a * float(ctx.clean_grad_norm()) / (float(self._gv_norm) + eps)
            torch._foreach_add_(g, self._gv, alpha=scale)  # g_v = 0 (rho = 0) adds exact zeros
        else:
            g_norms = torch.stack(torch._foreach_norm(g)).to(self._gv_norm.dtype)
            for gi, vi, s in zip(g, self._gv, (a * g_norms / (self._gv_norm + eps)).tolist()):
                gi.add_(vi, alpha=s)
        return g

    def _store_orthogonal(self, ctx: StepContext, g: list[torch.Tensor], gs: list[torch.Tensor]) -> None:
        """g_v = g_s − c g written over g (no longer needed), with c = ⟨g, g_s⟩/⟨g, g⟩.

        Both products come from one routine, so g_s == g (rho = 0) gives c = 1 exactly and g_v = 0."""
        if self.config.scope == "global":
            g_dot, g_sq = float(ops.dot(g, gs)), float(ops.dot(g, g))
            torch._foreach_mul_(g, -(g_dot / g_sq if g_sq > 0 else 0.0))
        else:
            dots = torch.stack([torch.vdot(a.reshape(-1), b.reshape(-1)) for a, b in zip(g, gs)])
            sqs = torch.stack([torch.vdot(a.reshape(-1), a.reshape(-1)) for a in g])
            cs = torch.where(sqs > 0, dots / torch.where(sqs > 0, sqs, 1), 0)
            torch._foreach_mul_(g, (-cs).tolist())
        torch._foreach_add_(g, gs)
        self._gv = g
        self._gv_norm = ops.global_norm(g) if self.config.scope == "global" else torch.stack(torch._foreach_norm(g))

    def _move_to(self, device: torch.device) -> None:
        if self._gv is not None and self._gv[0].device != device:
            self._gv = [t.to(device) for t in self._gv]
            self._gv_norm = None if self._gv_norm is None else self._gv_norm.to(device)

    def state_dict(self) -> dict[str, Any]:
        return {"gv": self._gv, "gv_norm": self._gv_norm}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        gv = state.get("gv")
        self._gv = [t.clone() for t in gv] if gv is not None else None
        norm = state.get("gv_norm")
        self._gv_norm = norm.clone() if norm is not None else None
