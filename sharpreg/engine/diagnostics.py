"""The per-step diagnostics the engine logs without an extra pass: ``sharpness`` L(w+e) − L(w) (first
perturbed pass), ``grad_norm`` ‖g‖, ``perturbation_norm`` ‖e‖, ``cos_g_gp`` cos(g, g_p) and ``rho``.

``cos_g_gp`` is cos(g, g_p) for every rule. While the rule still holds g at the end of the first perturbed
pass (GSAM, WSAM, CR-SAM) it is computed from g itself. A rule that releases g in its ascent (SAM, ASAM,
SAM-ON, as writing-a-rule.md recommends) would leave nothing to compare with, so the engine keeps a copy
of g in a narrower type (bfloat16 for float32 gradients, float32 for float64 ones), taken just before
the ascent: half the bytes of g, and a cosine within about 1e-3 of the exact one (bfloat16 keeps 8
significant bits; the rounding errors of the elements are independent and mostly cancel in the sum;
‖g‖ is the exact norm the engine takes in the copy's sweep). ``benchmarks/step_overhead.py`` measures the
cost: the copy and one mixed-type dot product (in one sweep with ‖g_p‖², which every rule takes), 2.5
float32 weight copies per step on one CPU thread, median of five rounds [2.3–3.6] (ResNet-50-sized,
shared machine at load 2–3; before the sweeps were fused, without ‖g_p‖²: 2.1–2.6).
A rule that keeps g and says so (``keeps_clean_grad = True``, as GSAM, WSAM and CR-SAM do) costs nothing;
one that keeps g without saying so costs one copy at its first step and none after.
"""

from __future__ import annotations

import torch

from . import ops
from .rule import StepContext

_NARROW = {torch.float32: torch.bfloat16, torch.float64: torch.float32}


class CleanGradientCopy:
    """A narrow copy of the clean gradient g for the cosine, kept only while the rule releases g."""

    def __init__(self, wanted: bool = True, enabled: bool = True) -> None:
        self.buffers: list[torch.Tensor] | None = None
        self.enabled = enabled
        """the cosine is logged at all (``log_cos_g_gp``)"""
        self.wanted = wanted and enabled
        """take a copy before the next ascent (the rule released g last time, or has not run yet)"""
        self.valid = False
        """the buffers hold this step's g"""

    def before_ascent(self, ctx: StepContext) -> None:
        """Copy g when wanted, and take ‖g‖ (``ctx.grad_norm``) if not yet known: in the same sweep, group by
        group (``ops.cache_blocks``), so that g is read from memory once for both."""
        self.valid = False
        g = ctx.grads[0]
        if not self.wanted or g is None:
            return
        if self.buffers is None:
            self.buffers = [torch.empty_like(t, dtype=_NARROW.get(t.dtype, t.dtype)) for t in g]
        parts: list[torch.Tensor] = []
        for gs, bs in ops.cache_blocks([g, self.buffers], ops.block_bytes(g)):
            torch._foreach_copy_(bs, gs)
            if ctx.grad_norm is None:
                parts += ops.norms(gs)
        if ctx.grad_norm is None:
            ctx.grad_norm = ops.norm_of_norms(parts)
        self.valid = True

    def after_ascent(self, ctx: StepContext) -> None:
        """The rule kept g: the copy is not needed (now or later); it released g: copy from now on."""
        if ctx.grads[0] is not None:
            self.wanted, self.valid, self.buffers = False, False, None
        else:
            self.wanted = self.enabled

    def nbytes(self) -> int:
        return ops.tensor_bytes(self.buffers)


def cosine(ctx: StepContext, copy: CleanGradientCopy) -> None:
    """cos(g, g_p) after the first perturbed pass (``ctx.cos_g_gp``; ``None`` when g is unknown); with
    g at hand also ⟨g, g_p⟩ and ‖g_p‖² (``ctx.g_dot_gp``, ``ctx.gp_sq``) for rules to reuse."""
    gp = ctx.grads[1]
    assert gp is not None
    g = ctx.grads[0]
    if g is not None:
        ctx.g_dot_gp, ctx.gp_sq = ops.dot_and_square(g, gp)
        ctx.cos_g_gp = ops.cosine(ctx.g_dot_gp, ctx.clean_grad_norm(), ctx.gp_sq.sqrt(), ctx.eps)
    elif copy.valid and copy.buffers is not None:
        approx_dot_gp, ctx.gp_sq = ops.dot_and_square(copy.buffers, gp)
        ctx.cos_g_gp = ops.cosine(approx_dot_gp, ctx.clean_grad_norm(), ctx.gp_sq.sqrt(), ctx.eps)
    else:
        ctx.cos_g_gp = None


def summarize(ctx: StepContext) -> dict[str, float]:
    """The step's diagnostics as floats (one host transfer), with the rule's own ``ctx.diagnostics``."""
    names: list[str] = []
    values: list[torch.Tensor] = []

    def add(name: str, v: torch.Tensor | float | None) -> None:
        if v is None:
            return
        names.append(name)
        values.append(v.detach().double().reshape(()).cpu() if isinstance(v, torch.Tensor)
                      else torch.tensor(float(v), dtype=torch.float64))

    if len(ctx.losses) > 1:
        add("sharpness", ctx.losses[1] - ctx.losses[0])
    if ctx.grad_norm is None and ctx.grads and ctx.grads[0] is not None:
        ctx.grad_norm = ops.global_norm(ctx.grads[0])
    add("grad_norm", ctx.grad_norm)
    if len(ctx.losses) > 1:
        add("perturbation_norm", ctx.perturbation_norm)
        add("cos_g_gp", ctx.cos_g_gp)
    out = dict(zip(names, torch.stack(values).tolist())) if values else {}
    out["rho"] = ctx.rho
    out.update({key: float(v) for key, v in ctx.diagnostics.items()})
    return out
