"""ASAM's and SAM-ON's ascent runs group by group (``ops.cache_blocks``). On float32 it writes the w + e of
the formula e_i = rho T_i² g_i / (‖T g‖ + eps) (T = |w| + eta on the scaled tensors, 1 on the others, e = 0
on the tensors not perturbed), whatever the group size: at the first ascent of a step and at a later
one (the parameters already perturbed). The comparison fails on a wrong eta."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch

from sharpreg.engine import StepContext
from sharpreg_plugins.rules._adaptive import adaptive_ascent

ETA, RHO, EPS = 0.01, 0.5, 1e-12
SHAPES = [(8, 4, 3, 3), (8,), (8,), (40, 30), (5,), (300,)]
#: (perturbed, scaled): ASAM's official scope (kernels and gains; biases T = 1); SAM-ON adaptive (a
#: subset perturbed, part of it scaled); every tensor scaled
SCOPES = {"asam": ([0, 1, 2, 3, 4, 5], [0, 1, 3, 5]), "sam_on": ([1, 2, 4], [1]), "all": ([0, 1, 2, 3, 4, 5], [0, 1, 2, 3, 4, 5])}


def tensors(seed: int) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Weights and gradients; the linear kernel's are transposed views (not contiguous: they go whole)."""
    gen = torch.Generator().manual_seed(seed)
    w = [torch.randn(s, generator=gen) * 0.1 for s in SHAPES]
    g = [torch.randn(s, generator=gen) * 1e-2 for s in SHAPES]
    w[3], g[3] = w[3].t(), g[3].t()
    return w, g


def formula(w: list[torch.Tensor], g: list[torch.Tensor], perturbed: list[int], scaled: list[int]
            ) -> tuple[list[torch.Tensor], float]:
    """w + e and ‖e‖ in float64."""
    w64, g64 = [t.double() for t in w], [t.double() for t in g]
    t = [w64[i].abs() + ETA if i in scaled else torch.ones_like(w64[i]) for i in range(len(w))]
    norm = math.sqrt(sum(float(((t[i] * g64[i]) ** 2).sum()) for i in perturbed))
    e = [RHO * t[i] ** 2 * g64[i] / (norm + EPS) if i in perturbed else torch.zeros_like(w64[i]) for i in range(len(w))]
    return [wi + ei for wi, ei in zip(w64, e)], math.sqrt(sum(float((ei * ei).sum()) for ei in e))


def ascend(ascent: Callable[..., None], scope: str, block: int, at_backup: bool, seed: int = 0
           ) -> tuple[list[torch.Tensor], float]:
    """Run ``ascent`` on float32 tensors; not ``at_backup``: the parameters start away from w (an earlier
    perturbation), as at a later ascent of a step."""
    w, g = tensors(seed)
    params = [t.clone() if at_backup else t + 0.3 for t in w]
    ctx = StepContext(params=params, backup=[t.clone() for t in w], grads=[[t.clone() for t in g]], rho=RHO,
                      lr=[0.1] * len(w), step=0, optimizer=None, eps=EPS, at_backup=at_backup)  # type: ignore[arg-type]
    perturbed, scaled = SCOPES[scope]
    ascent(ctx, perturbed, scaled, ETA, block)
    assert ctx.grads[0] is None and not ctx.at_backup
    return params, float(ctx.perturbation_norm)  # type: ignore[arg-type]


def worst_error(ascent: Callable[..., None], scope: str, block: int, at_backup: bool) -> float:
    """Largest error of w + e against the formula, relative to the largest |e|, and of ‖e‖."""
    w, g = tensors(0)
    want, want_norm = formula(w, g, *SCOPES[scope])
    got, got_norm = ascend(ascent, scope, block, at_backup)
    e_max = max(float((wi - w0.double()).abs().max()) for wi, w0 in zip(want, w))
    errors = [float((a.double() - b).abs().max()) / e_max for a, b in zip(got, want)]
    return max(*errors, abs(got_norm - want_norm) / want_norm)


@pytest.mark.parametrize("at_backup", [True, False])
@pytest.mark.parametrize("block", [16, 100, 1000, 4096, 1 << 30])
@pytest.mark.parametrize("scope", list(SCOPES))
def test_the_blocked_ascent_writes_the_formula(scope, block, at_backup):
    assert worst_error(adaptive_ascent, scope, block, at_backup) < 1e-4


def test_group_sizes_agree_to_float_rounding():
    one_group, _ = ascend(adaptive_ascent, "asam", 1 << 30, True)
    small_groups, _ = ascend(adaptive_ascent, "asam", 64, True)
    for a, b in zip(one_group, small_groups):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("at_backup", [True, False])
def test_the_comparison_fails_on_a_wrong_eta(at_backup):
    def wrong_eta(ctx, perturbed, scaled, eta, block):
        adaptive_ascent(ctx, perturbed, scaled, eta + 0.05, block)

    assert worst_error(wrong_eta, "asam", 100, at_backup) > 1e-2
