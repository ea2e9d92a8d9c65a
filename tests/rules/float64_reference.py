"""The independent float64 reference of the rule tests: a linear model with MSE, its hand-derived
gradient, list arithmetic (with the kit's float64 SGD and Adam), and the engine run it is compared with."""

from __future__ import annotations

import math

import torch
from torch import nn

import sharpreg_plugins.rules as first_party
from sharpreg.build import build_rho_schedule
from sharpreg.engine import SharpnessStep
from sharpreg.specs import SchedulePlan
from sharpreg.testing import RefAdam, RefSGD

SPECS = {s.name: s for s in first_party.sharpreg_sharpness_rules()}

IN, OUT, N = 5, 3, 12


def data(step: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(100 + step)
    return torch.randn(N, IN, generator=gen, dtype=torch.float64), torch.randn(N, OUT, generator=gen, dtype=torch.float64)


def init() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(7)
    return torch.randn(OUT, IN, generator=gen, dtype=torch.float64), torch.randn(OUT, generator=gen, dtype=torch.float64)


# -- the independent reference ------------------------------------------------------------------
def grad(w: list[torch.Tensor], x: torch.Tensor, t: torch.Tensor) -> list[torch.Tensor]:
    """Hand-derived gradient of mean((x W^T + b - t)^2)."""
    W, b = w
    r = x @ W.T + b - t
    c = 2.0 / r.numel()
    return [c * r.T @ x, c * r.sum(0)]


def loss(w: list[torch.Tensor], x: torch.Tensor, t: torch.Tensor) -> float:
    W, b = w
    return float(((x @ W.T + b - t) ** 2).mean())


def norm(v: list[torch.Tensor]) -> float:
    return math.sqrt(sum(float((a * a).sum()) for a in v))


def inner(u: list[torch.Tensor], v: list[torch.Tensor]) -> float:
    return sum(float((a * b).sum()) for a, b in zip(u, v))


def axpy(a: float, x: list[torch.Tensor], y: list[torch.Tensor]) -> list[torch.Tensor]:
    return [a * xi + yi for xi, yi in zip(x, y)]


def run_engine(name, kwargs, base, steps=3, lrs=None, lr_range=None, total_steps=None):
    """``steps`` steps of rule ``name`` on the linear model: (final weights, step outputs, params)."""
    spec = SPECS[name]
    params = spec.params(**kwargs)
    W, b = init()
    model = nn.Linear(IN, OUT).double()
    with torch.no_grad():
        model.weight.copy_(W)
        model.bias.copy_(b)
    opt = (
        torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=0.01)
        if base == "sgd"
        else torch.optim.Adam(model.parameters(), lr=0.05)
    )
    schedule = build_rho_schedule(params, SchedulePlan(lr_range=lr_range or (0.0, opt.param_groups[0]["lr"])))
    engine = SharpnessStep(model, opt, spec.factory(params), params, rho_schedule=schedule, total_steps=total_steps)
    outs = []
    for s in range(steps):
        if lrs is not None:
            opt.param_groups[0]["lr"] = lrs[s]
        x, t = data(s)
        outs.append(engine.step([(x, t)], nn.functional.mse_loss))
    return [model.weight.detach(), model.bias.detach()], outs, params
