"""The ascent ASAM and SAM-ON share: on the perturbed tensors e_i = rho T_i² g_i / (‖T g‖ + eps), with
T = |w| + eta on the scaled tensors and T = 1 on the others; e = 0 on the tensors not perturbed.
Its radius is ‖T⁻¹ e‖ = rho (plain L2 when nothing is scaled)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from sharpreg.engine import StepContext, ops


def adaptive_ascent(ctx: StepContext, perturbed: Sequence[int], scaled: Sequence[int], eta: float) -> None:
    """Write w + e into ``ctx.params`` and release g (it is scaled in place)."""
    g = ctx.ascent_grads()
    if not ctx.at_backup and len(perturbed) < len(ctx.params):
        torch._foreach_copy_(ctx.params, ctx.backup)  # the tensors left alone must hold w
    ps = [ctx.params[i] for i in scaled]
    gs = [g[i] for i in scaled]
    if ps:
        # T = |w| + eta, written into the scaled parameters as scratch space (the write below restores w)
        if not ctx.at_backup:
            torch._foreach_copy_(ps, [ctx.backup[i] for i in scaled])
        torch._foreach_abs_(ps)
        torch._foreach_add_(ps, eta)
        torch._foreach_mul_(gs, ps)  # T g
    gp = [g[i] for i in perturbed]
    norm = float(ops.global_norm(gp))  # ‖T g‖ over the perturbed tensors
    if ps:
        torch._foreach_mul_(gs, ps)  # T² g
    scale = ctx.rho / (norm + ctx.eps)
    ops.write_perturbation([ctx.params[i] for i in perturbed], [ctx.backup[i] for i in perturbed], gp, scale,
                           at_backup=ctx.at_backup and not ps)
    ctx.at_backup = False
    ctx.perturbation_norm = scale * float(ops.global_norm(gp))
    ctx.grads[0] = None


def adaptive_radius(ctx: StepContext, e: Sequence[torch.Tensor], perturbed: Sequence[int], scaled: Sequence[int],
                    eta: float) -> torch.Tensor:
    """‖T⁻¹ e‖ over the perturbed tensors (T from the backup w; where T = 0, e is 0 too)."""
    scaled_set = set(scaled)
    parts = []
    for i in perturbed:
        if i in scaled_set:
            t = ctx.backup[i].abs() + eta
            parts.append(torch.where(t > 0, e[i] / torch.where(t > 0, t, torch.ones_like(t)), torch.zeros_like(t)))
        else:
            parts.append(e[i])
    return ops.global_norm(parts)
