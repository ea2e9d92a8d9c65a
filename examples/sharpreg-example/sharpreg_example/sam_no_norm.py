"""SAM without the normalization layers: the SAM perturbation of every tensor except the gains and shifts of
BatchNorm/LayerNorm/GroupNorm layers, which stay at w (the complement of SAM-ON, an ablation in Mueller et al.,
NeurIPS 2023). It shows a rule that selects tensors by their role, learnt before the first step."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from pydantic import Field

from sharpreg import RuleParams, RuleSpec
from sharpreg.engine import BaseRule, ParamInfo, StepContext, l2_radius, ops


class SAMNoNormParams(RuleParams):
    """SAM's radius, over the tensors outside normalization layers."""

    rho: float = Field(0.05, ge=0.0, le=10.0, description="Perturbation radius rho.")


class SAMNoNorm(BaseRule):
    n_passes = 2
    radius = staticmethod(l2_radius)  # e is 0 on the normalization tensors, so ‖e‖ over all = rho

    def prepare(self, param_info: Sequence[ParamInfo]) -> None:
        super().prepare(param_info)  # keeps self.param_info
        self.perturbed = [i for i, p in enumerate(param_info) if p.role != "norm"]

    def ascent(self, ctx: StepContext, k: int) -> None:
        g = ctx.ascent_grads()
        gs = [g[i] for i in self.perturbed]
        scale = ctx.rho / (float(ops.global_norm(gs)) + ctx.eps)
        if not ctx.at_backup:
            torch._foreach_copy_(ctx.params, ctx.backup)  # the norm tensors must hold w
        ops.write_perturbation([ctx.params[i] for i in self.perturbed], [ctx.backup[i] for i in self.perturbed],
                               gs, scale, at_backup=True)
        ctx.at_backup = False
        ctx.perturbation_norm = scale * float(ops.global_norm(gs))
        ctx.grads[0] = None  # release g

    def combine(self, ctx: StepContext) -> list[torch.Tensor]:
        gp = ctx.grads[1]
        assert gp is not None
        return gp


SPEC = RuleSpec(
    "sam_no_norm", SAMNoNormParams, SAMNoNorm,
    "SAM that leaves the normalization layers' gains and shifts unperturbed (the complement of SAM-ON).",
    citation="Mueller, Vlaar, Rolnick, Hein. Normalization Layers Are All That Sharpness-Aware Minimization Needs. "
    "NeurIPS 2023 (its no-norm ablation). arXiv:2306.04226",
)
