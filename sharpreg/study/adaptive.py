"""Scale-invariant sharpness and weight norms at a trained minimum.

λ_max and the Hessian trace change when a network is reparametrized without changing its function:
scaling the weights before a BatchNorm layer by α scales that block of the Hessian by 1/α² (Dinh et al.,
ICML 2017). Adaptive sharpness (Kwon et al., ICML 2021; Andriushchenko et al., ICML 2023) measures
perturbations relative to each weight's magnitude, so such a rescaling leaves it unchanged. With
``L`` the loss on the measured subset and ``|w|`` the element-wise magnitude of every trainable
parameter (biases and normalization parameters included; η = 0):

* **average case**: ``S_avg(ρ) = E_z[L(w + ρ |w| ⊙ z)] − L(w)``, z ~ N(0, I): the Gaussian, adaptive,
  average-case sharpness of Andriushchenko et al., estimated with ``samples`` antithetic pairs
  (z and −z: the same expectation, but the first-order term ρ gᵀ(|w|⊙z), which is pure noise, cancels
  within each pair); its standard error over the pairs is reported;
* **worst case**: ``S_max(ρ) = max over |δ| ≤ ρ|w| (element-wise, an ℓ∞ box) of L(w + δ) − L(w)``, estimated
  from below by ``steps`` steps of projected sign-gradient ascent from δ = 0 with step ``2ρ|w|/steps``,
  keeping the largest loss seen (Andriushchenko et al. use the same box and a longer, momentum ascent).

Both are invariant under any element-wise rescaling of the parameters that leaves the network's
function unchanged for all weights (ReLU layer rescalings, BatchNorm's scale invariance):
``tests/study/test_adaptive.py`` checks this beside λ_max, which does change.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from .hessian import Terms


def weight_norms(params: Sequence[torch.Tensor]) -> dict[str, float]:
    """The global L2 norm of all trainable parameters, and of the matrices and kernels (ndim >= 2) alone."""
    total = sum(float(p.detach().double().pow(2).sum()) for p in params)
    matrices = sum(float(p.detach().double().pow(2).sum()) for p in params if p.ndim >= 2)
    return {"weight_norm": math.sqrt(total), "weight_norm_matrices": math.sqrt(matrices)}


@dataclass(frozen=True)
class AdaptiveResult:
    value: float
    stderr: float | None = None
    history: tuple[float, ...] = ()


@torch.no_grad()
def adaptive_average(loss: Callable[[], float], params: Sequence[torch.Tensor], *, rho: float, samples: int,
                     generator: torch.Generator | None = None, loss0: float | None = None) -> AdaptiveResult:
    """``E[L(w + ρ|w|⊙z)] − L(w)`` over ``samples`` antithetic pairs of Gaussian draws (z, −z); each pair's
    mean rise is one sample. The weights are restored by copy."""
    saved = [p.detach().clone() for p in params]
    base = loss() if loss0 is None else loss0
    rises = []
    try:
        for _ in range(samples):
            steps = [rho * w.abs() * torch.randn(w.shape, generator=generator, dtype=w.dtype).to(w.device) for w in saved]
            pair = []
            for sign in (1.0, -1.0):
                for p, w, d in zip(params, saved, steps):
                    p.copy_(w + sign * d)
                pair.append(loss() - base)
            rises.append(sum(pair) / 2)
    finally:
        for p, w in zip(params, saved):
            p.copy_(w)
    t = torch.tensor(rises, dtype=torch.float64)
    se = float(t.std(unbiased=True) / math.sqrt(len(rises))) if len(rises) > 1 else None
    return AdaptiveResult(float(t.mean()), se, tuple(rises))


def adaptive_worst(terms: Terms, params: Sequence[torch.Tensor], *, rho: float, steps: int) -> AdaptiveResult:
    """``max over |δ| ≤ ρ|w|`` of ``L(w+δ) − L(w)``, from below: ``steps`` projected sign-gradient ascent
    steps of ``2ρ|w|/steps`` from δ = 0; the largest rise seen (``history``: the rise at each iterate)."""
    saved = [p.detach().clone() for p in params]
    scale = [rho * w.abs() for w in saved]
    delta = [torch.zeros_like(w) for w in saved]
    rises: list[float] = []
    base = math.nan
    try:
        for k in range(steps + 1):
            with torch.no_grad():
                for p, w, d in zip(params, saved, delta):
                    p.copy_(w + d)
            if k == steps:  # the last iterate needs its loss only
                with torch.no_grad():
                    value = float(sum(float(t) for t in terms()))
            else:
                value, grads = _loss_and_grad(terms, params)
            if k == 0:
                base = value
            else:
                rises.append(value - base)
            if k < steps:
                with torch.no_grad():
                    for d, g, s in zip(delta, grads, scale):
                        d.add_(2.0 / steps * s * torch.sign(g))
                        torch.minimum(torch.maximum(d, -s), s, out=d)
    finally:
        with torch.no_grad():
            for p, w in zip(params, saved):
                p.copy_(w)
    return AdaptiveResult(max(rises), None, tuple(rises))


def _loss_and_grad(terms: Terms, params: Sequence[torch.Tensor]) -> tuple[float, list[torch.Tensor]]:
    total = 0.0
    grads = [torch.zeros_like(p) for p in params]
    for t in terms():
        for acc, g in zip(grads, torch.autograd.grad(t, params, allow_unused=True)):
            if g is not None:
                acc.add_(g)
        total += float(t.detach())
    return total, grads
