"""Curvature of a loss at the current weights: Hessian-vector products, the largest eigenvalue (power
iteration), the trace (Hutchinson with Rademacher probes), and 1-D loss slices along a filter-normalized
random direction (Li, Xu, Taylor, Studer, Goldstein, NeurIPS 2018).

The loss is given as ``terms()``: an iterable of scalar tensors whose sum is the loss (e.g. one term per
batch, each the batch mean times its share of the samples), so a data subset larger than one batch is
handled batch by batch. Hessian-vector products use double backward (``torch.autograd.grad`` with
``create_graph=True``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import torch

Terms = Callable[[], Iterable[torch.Tensor]]
Vec = list[torch.Tensor]


def _dot(a: Sequence[torch.Tensor], b: Sequence[torch.Tensor]) -> float:
    return float(sum((x.double() * y.double()).sum() for x, y in zip(a, b)))


def _norm(a: Sequence[torch.Tensor]) -> float:
    return math.sqrt(_dot(a, a))


def hvp(terms: Terms, params: Sequence[torch.Tensor], vec: Sequence[torch.Tensor]) -> Vec:
    """H v, the Hessian of ``sum(terms())`` with respect to ``params`` times ``vec``."""
    out = [torch.zeros_like(p) for p in params]
    for loss in terms():
        grads = torch.autograd.grad(loss, params, create_graph=True, allow_unused=True)
        pairs = [(g, v) for g, v in zip(grads, vec) if g is not None]
        if not pairs:
            continue
        inner = sum((g * v).sum() for g, v in pairs)
        hv = torch.autograd.grad(inner, params, allow_unused=True)
        for o, h in zip(out, hv):
            if h is not None:
                o.add_(h.detach())
    return out


@dataclass
class EigenResult:
    value: float
    iterations: int
    converged: bool
    history: list[float] = field(default_factory=list)


def top_eigenvalue(terms: Terms, params: Sequence[torch.Tensor], *, iters: int = 20, tol: float = 1e-3,
                   generator: torch.Generator | None = None) -> EigenResult:
    """The Hessian eigenvalue of largest magnitude by power iteration on Hessian-vector products.

    Stops when the Rayleigh quotient changes by less than ``tol`` (relative) between iterations."""
    v = [torch.randn(p.shape, generator=generator, dtype=p.dtype).to(p.device) for p in params]
    n = _norm(v)
    v = [x / n for x in v]
    value, history = math.nan, []
    for i in range(1, iters + 1):
        hv = hvp(terms, params, v)
        new = _dot(v, hv)  # Rayleigh quotient (v has unit norm)
        history.append(new)
        norm = _norm(hv)
        if norm == 0:
            return EigenResult(0.0, i, True, history)
        v = [x / norm for x in hv]
        if i > 1 and abs(new - value) <= tol * max(abs(new), 1e-12):
            return EigenResult(new, i, True, history)
        value = new
    return EigenResult(value, iters, False, history)


@dataclass
class TraceResult:
    value: float
    stderr: float
    probes: int


def hutchinson_trace(terms: Terms, params: Sequence[torch.Tensor], *, probes: int = 20,
                     generator: torch.Generator | None = None) -> TraceResult:
    """tr(H) ≈ mean over Rademacher z of zᵀHz (unbiased); ``stderr`` is the standard error of that mean."""
    samples = []
    for _ in range(probes):
        z = [(torch.randint(0, 2, p.shape, generator=generator) * 2 - 1).to(p.dtype).to(p.device) for p in params]
        samples.append(_dot(z, hvp(terms, params, z)))
    t = torch.tensor(samples, dtype=torch.float64)
    se = float(t.std(unbiased=True) / math.sqrt(len(samples))) if len(samples) > 1 else math.nan
    return TraceResult(float(t.mean()), se, probes)


def filter_normalized_direction(params: Sequence[torch.Tensor], *, generator: torch.Generator | None = None,
                                ignore_1d: bool = True) -> Vec:
    """A Gaussian direction with each filter (slice along dim 0) rescaled to the norm of the matching
    filter of the weights (Li et al. 2018). 1-D tensors (biases, normalization) get 0 when ``ignore_1d``."""
    out = []
    for p in params:
        d = torch.randn(p.shape, generator=generator, dtype=p.dtype).to(p.device)
        if p.ndim <= 1:
            out.append(torch.zeros_like(p) if ignore_1d else d * (p.norm() / (d.norm() + 1e-10)))
            continue
        pf, df = p.detach().reshape(p.shape[0], -1), d.reshape(d.shape[0], -1)
        scale = pf.norm(dim=1, keepdim=True) / (df.norm(dim=1, keepdim=True) + 1e-10)
        out.append((df * scale).reshape(p.shape))
    return out


@torch.no_grad()
def loss_slice(loss: Callable[[], float], params: Sequence[torch.Tensor], direction: Sequence[torch.Tensor],
               alphas: Sequence[float]) -> list[float]:
    """``loss()`` at ``w + alpha * direction`` for each alpha; the weights are restored exactly (by copy)."""
    saved = [p.detach().clone() for p in params]
    values = []
    try:
        for a in alphas:
            for p, w, d in zip(params, saved, direction):
                p.copy_(w + a * d)
            values.append(float(loss()))
    finally:
        for p, w in zip(params, saved):
            p.copy_(w)
    return values
