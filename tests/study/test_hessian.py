"""Hessian measurements against closed forms and torch's exact Hessian."""

from __future__ import annotations

import math

import torch
from torch import nn

from sharpreg.study import hessian


def _quadratic(seed: int = 0, n: int = 12) -> tuple[torch.Tensor, torch.Tensor]:
    """A symmetric matrix A with known spectrum (top eigenvalue 5, others in [-1, 2]) and a weight vector."""
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
    eig = torch.cat([torch.tensor([5.0], dtype=torch.float64), torch.linspace(-1.0, 2.0, n - 1, dtype=torch.float64)])
    a = q @ torch.diag(eig) @ q.T
    w = torch.randn(n, generator=g, dtype=torch.float64, requires_grad=True)
    return a, w


def test_hvp_of_a_quadratic_is_a_times_v():
    a, w = _quadratic()
    v = torch.randn(12, dtype=torch.float64)
    hv = hessian.hvp(lambda: [0.5 * w @ a @ w], [w], [v])[0]
    torch.testing.assert_close(hv, a @ v)


def test_hvp_sums_terms():
    a, w = _quadratic()
    v = torch.ones(12, dtype=torch.float64)
    hv = hessian.hvp(lambda: [0.25 * w @ a @ w, 0.25 * w @ a @ w], [w], [v])[0]
    torch.testing.assert_close(hv, a @ v)


def test_power_iteration_finds_the_top_eigenvalue_of_a_quadratic():
    a, w = _quadratic()
    res = hessian.top_eigenvalue(lambda: [0.5 * w @ a @ w], [w], iters=200, tol=1e-10,
                                 generator=torch.Generator().manual_seed(1))
    assert res.converged
    assert math.isclose(res.value, 5.0, rel_tol=1e-6)
    assert math.isclose(res.value, float(torch.linalg.eigvalsh(a).max()), rel_tol=1e-6)


def test_hutchinson_trace_of_a_quadratic():
    a, w = _quadratic()
    exact = float(torch.trace(a))  # 5 + sum(linspace(-1, 2, 11)) = 5 + 5.5
    assert math.isclose(exact, 10.5, rel_tol=1e-9)
    res = hessian.hutchinson_trace(lambda: [0.5 * w @ a @ w], [w], probes=400,
                                   generator=torch.Generator().manual_seed(2))
    assert abs(res.value - exact) < 4 * res.stderr + 1e-9
    assert abs(res.value - exact) < 0.1 * abs(exact) + 0.5


def test_hutchinson_is_exact_for_a_diagonal_hessian():
    d = torch.tensor([1.0, 2.0, 3.0, -0.5], dtype=torch.float64)
    w = torch.randn(4, dtype=torch.float64, requires_grad=True)
    res = hessian.hutchinson_trace(lambda: [0.5 * (d * w * w).sum()], [w], probes=3)
    assert math.isclose(res.value, 5.5, rel_tol=1e-12)  # z_i^2 = 1: every probe gives the trace
    assert res.stderr == 0.0


def test_small_model_trace_and_top_eigenvalue_match_the_exact_hessian():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    x, y = torch.randn(16, 3, dtype=torch.float64), torch.randint(0, 2, (16,))
    params = list(model.parameters())
    shapes = [p.shape for p in params]
    sizes = [p.numel() for p in params]
    flat0 = torch.cat([p.detach().reshape(-1) for p in params])

    def loss_of(flat: torch.Tensor) -> torch.Tensor:
        chunks = torch.split(flat, sizes)
        tensors = [c.reshape(s) for c, s in zip(chunks, shapes)]
        h = torch.tanh(x @ tensors[0].T + tensors[1])
        return nn.functional.cross_entropy(h @ tensors[2].T + tensors[3], y)

    exact = torch.autograd.functional.hessian(loss_of, flat0)
    eigs = torch.linalg.eigvalsh(exact)
    loss_fn = nn.CrossEntropyLoss()
    terms = lambda: [loss_fn(model(x[:8]), y[:8]) * 0.5, loss_fn(model(x[8:]), y[8:]) * 0.5]  # noqa: E731
    tr = hessian.hutchinson_trace(terms, params, probes=150, generator=torch.Generator().manual_seed(3))
    assert abs(tr.value - float(torch.trace(exact))) < 4 * tr.stderr + 1e-6
    top = hessian.top_eigenvalue(terms, params, iters=500, tol=1e-9, generator=torch.Generator().manual_seed(4))
    assert math.isclose(top.value, float(eigs[eigs.abs().argmax()]), rel_tol=1e-4)


def test_filter_normalized_direction_matches_filter_norms_and_zeroes_biases():
    conv = nn.Conv2d(2, 5, 3)
    d = hessian.filter_normalized_direction(list(conv.parameters()), generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(d[0].reshape(5, -1).norm(dim=1), conv.weight.detach().reshape(5, -1).norm(dim=1))
    assert torch.count_nonzero(d[1]) == 0


def test_loss_slice_of_a_quadratic_and_exact_restore():
    a, w = _quadratic()
    w0 = w.detach().clone()
    d = torch.randn(12, dtype=torch.float64)
    alphas = [-1.0, 0.0, 0.5]
    values = hessian.loss_slice(lambda: float(0.5 * w @ a @ w), [w], [d], alphas)
    for t, v in zip(alphas, values):
        u = w0 + t * d
        assert math.isclose(v, float(0.5 * u @ a @ u), rel_tol=1e-12)
    assert torch.equal(w.detach(), w0)
