"""Adaptive sharpness and weight norms: unchanged by rescalings that keep a network's function (ReLU
layers, BatchNorm), where λ_max changes; the average case against a direct Monte Carlo; the worst case
bounded by its box and above a random point of it; weights restored bit for bit."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from sharpreg.study.adaptive import adaptive_average, adaptive_worst, weight_norms
from sharpreg.study.hessian import top_eigenvalue


def mlp() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))


def bn_net() -> nn.Sequential:
    torch.manual_seed(1)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, bias=False), nn.BatchNorm2d(4, eps=1e-12), nn.ReLU(),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
    net[1].running_mean.uniform_(-0.2, 0.2)
    net[1].running_var.uniform_(0.5, 2.0)
    return net.eval()  # BatchNorm with its running statistics, as `sharpreg sharpness` measures


def rescale_mlp(net: nn.Sequential, a: float) -> None:
    with torch.no_grad():
        net[0].weight.mul_(a), net[0].bias.mul_(a), net[2].weight.div_(a)


def rescale_bn(net: nn.Sequential, a: float) -> None:
    with torch.no_grad():  # conv weights x a; BatchNorm's statistics follow: the same function for all weights
        net[0].weight.mul_(a), net[1].running_mean.mul_(a), net[1].running_var.mul_(a * a)


def measures(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    params = [p for p in net.parameters()]
    terms = lambda: [nn.functional.cross_entropy(net(x), y)]  # noqa: E731
    loss = lambda: float(terms()[0].detach())  # noqa: E731
    avg = adaptive_average(loss, params, rho=0.1, samples=8, generator=torch.Generator().manual_seed(3))
    worst = adaptive_worst(terms, params, rho=0.05, steps=4)
    # λ_max of the Hessian block of the first (rescaled) weight tensor: it scales by 1/a²
    lam = top_eigenvalue(terms, params[:1], iters=300, tol=1e-9, generator=torch.Generator().manual_seed(0))
    return {"avg": avg.value, "max": worst.value, "lambda_max": lam.value, "loss": loss()}


@pytest.mark.parametrize("make, rescale, shape", [(mlp, rescale_mlp, (32, 4)), (bn_net, rescale_bn, (16, 1, 6, 6))])
def test_adaptive_sharpness_ignores_function_preserving_rescaling_where_lambda_max_does_not(make, rescale, shape):
    torch.manual_seed(5)
    x, y = torch.randn(shape, dtype=torch.float64), torch.randint(0, 2, (shape[0],))
    net = make().double()
    before = measures(net, x, y)
    rescale(net, 5.0)
    after = measures(net, x, y)
    assert after["loss"] == pytest.approx(before["loss"], rel=1e-9)  # the same function
    assert after["avg"] == pytest.approx(before["avg"], rel=1e-6) and before["avg"] != 0  # (not a minimum: any sign)
    assert after["max"] == pytest.approx(before["max"], rel=1e-6) and before["max"] > 0
    assert after["lambda_max"] == pytest.approx(before["lambda_max"] / 25, rel=1e-4)  # λ_max moves by 1/a²


def mlp_problem(seed: int, n: int):
    """A small MLP in float64 on ``n`` random cases: the net, inputs, labels, its parameters and a copy."""
    torch.manual_seed(seed)
    net = mlp().double()
    x, y = torch.randn(n, 4, dtype=torch.float64), torch.randint(0, 2, (n,))
    params = list(net.parameters())
    return net, x, y, params, [p.detach().clone() for p in params]


def test_average_case_equals_a_direct_monte_carlo_and_weights_are_restored():
    net, x, y, params, saved = mlp_problem(2, 20)
    loss = lambda: float(nn.functional.cross_entropy(net(x), y).detach())  # noqa: E731
    res = adaptive_average(loss, params, rho=0.2, samples=6, generator=torch.Generator().manual_seed(9))
    gen, rises, base = torch.Generator().manual_seed(9), [], loss()
    for _ in range(6):  # the definition, written out: w + rho |w| z and its antithetic w - rho |w| z
        z = [torch.randn(w.shape, generator=gen, dtype=w.dtype) for w in saved]
        pair = []
        for sign in (1, -1):
            noisy = [w + sign * 0.2 * w.abs() * zi for w, zi in zip(saved, z)]
            out = nn.functional.linear(torch.relu(nn.functional.linear(x, noisy[0], noisy[1])), noisy[2], noisy[3])
            pair.append(float(nn.functional.cross_entropy(out, y)) - base)
        rises.append(sum(pair) / 2)
    assert res.value == pytest.approx(sum(rises) / 6, rel=1e-12) and list(res.history) == pytest.approx(rises)
    assert res.stderr == pytest.approx(float(torch.tensor(rises).std()) / math.sqrt(6))
    assert all(torch.equal(p, w) for p, w in zip(params, saved))


def test_worst_case_stays_in_its_box_beats_random_points_and_restores_the_weights():
    net, x, y, params, saved = mlp_problem(4, 40)
    terms = lambda: [nn.functional.cross_entropy(net(x), y)]  # noqa: E731
    base = float(terms()[0].detach())
    worst = adaptive_worst(terms, params, rho=0.05, steps=5)
    assert all(torch.equal(p, w) for p, w in zip(params, saved))
    assert len(worst.history) == 5 and worst.value == max(worst.history)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        corners = []
        for _ in range(20):  # random corners of the same box: the ascent finds more
            for p, w in zip(params, saved):
                p.copy_(w + 0.05 * w.abs() * torch.sign(torch.randn(w.shape, generator=gen, dtype=w.dtype)))
            corners.append(float(terms()[0]) - base)
        for p, w in zip(params, saved):
            p.copy_(w)
    assert worst.value > max(corners)
    # at a tiny radius one step lands on the box's corner sign(g): the rise is rho * sum |w| |g| to first order
    small = adaptive_worst(terms, params, rho=1e-5, steps=1)
    g = torch.autograd.grad(terms()[0], params)
    assert small.value == pytest.approx(1e-5 * sum(float((w.abs() * gi.abs()).sum()) for w, gi in zip(saved, g)), rel=1e-3)


def test_weight_norms():
    net = mlp()
    params = list(net.parameters())
    norms = weight_norms(params)
    assert norms["weight_norm"] == pytest.approx(float(torch.cat([p.detach().flatten() for p in params]).norm()))
    assert norms["weight_norm_matrices"] == pytest.approx(math.hypot(float(net[0].weight.detach().norm()), float(net[2].weight.detach().norm())))
