"""The small problems the test kits run on: a tiny CNN (BatchNorm, dropout, float32) and a smooth float64
network with a normalization layer, with their batches, plus plain SGD and Adam written out in float64."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call

from ..engine.roles import ParamInfo, parameter_roles

Tensors = list[torch.Tensor]


def tiny_model(seed: int = 0) -> nn.Module:
    """A CNN small enough for unit tests: conv, BatchNorm, dropout, linear."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Dropout(0.25),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Linear(16, 2),
    )


def tiny_batches(seed: int = 1, n: int = 8, size: int = 8) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Two micro-batches of random images and labels."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, size, size, generator=gen)
    y = torch.randint(0, 2, (n,), generator=gen)
    half = n // 2
    return [(x[:half], y[:half]), (x[half:], y[half:])]


IN, HIDDEN, OUT, N = 5, 6, 3, 12


def smooth_model(seed: int = 0) -> nn.Module:
    """A smooth float64 network: linear, LayerNorm, tanh, linear (weights, biases and a norm layer)."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(IN, HIDDEN), nn.LayerNorm(HIDDEN), nn.Tanh(), nn.Linear(HIDDEN, OUT)).double()


def smooth_batch(step: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The regression batch of ``step``: inputs and targets in float64."""
    gen = torch.Generator().manual_seed(1000 * seed + 100 + step)
    return (torch.randn(N, IN, generator=gen, dtype=torch.float64),
            torch.randn(N, OUT, generator=gen, dtype=torch.float64))


def smooth_loss(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return nn.functional.mse_loss(out, target)


@dataclass
class Problem:
    """One step's loss as a function of the weights, for a float64 reference step (see
    ``check_reference``). ``info[i]`` says what ``w[i]`` is; ``grad(w)`` and ``loss(w)`` evaluate this
    step's batch at the weights ``w`` (autograd on a functional copy of the network, independent of the
    engine)."""

    model: nn.Module
    names: list[str]
    info: Sequence[ParamInfo]
    x: torch.Tensor
    target: torch.Tensor

    def loss_at(self, w: Sequence[torch.Tensor]) -> torch.Tensor:
        return smooth_loss(functional_call(self.model, dict(zip(self.names, w)), (self.x,)), self.target)

    def loss(self, w: Sequence[torch.Tensor]) -> float:
        with torch.no_grad():
            return float(self.loss_at(w))

    def grad(self, w: Sequence[torch.Tensor]) -> Tensors:
        leaves = [t.detach().clone().requires_grad_(True) for t in w]
        return list(torch.autograd.grad(self.loss_at(leaves), leaves))


def problem(model: nn.Module, x: torch.Tensor, target: torch.Tensor) -> Problem:
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    return Problem(model, [n for n, _ in named], parameter_roles(model, [p for _, p in named]), x, target)


class RefSGD:
    """torch.optim.SGD (momentum, L2 weight decay) in float64 list arithmetic."""

    def __init__(self, lr: float, momentum: float = 0.0, weight_decay: float = 0.0) -> None:
        self.lr, self.mu, self.wd = lr, momentum, weight_decay
        self.buf: Tensors | None = None

    def step(self, w: Tensors, d: Tensors) -> Tensors:
        d = [di + self.wd * wi for di, wi in zip(d, w)]
        self.buf = d if self.buf is None else [self.mu * bi + di for bi, di in zip(self.buf, d)]
        return [wi - self.lr * bi for wi, bi in zip(w, self.buf)]


class RefAdam:
    """torch.optim.Adam (no weight decay, no amsgrad) in float64 list arithmetic."""

    def __init__(self, lr: float, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> None:
        self.lr, self.b1, self.b2, self.eps, self.t = lr, b1, b2, eps, 0
        self.m: Tensors | None = None
        self.v: Tensors | None = None

    def step(self, w: Tensors, d: Tensors) -> Tensors:
        self.t += 1
        m = self.m if self.m is not None else [torch.zeros_like(x) for x in w]
        v = self.v if self.v is not None else [torch.zeros_like(x) for x in w]
        self.m = [self.b1 * mi + (1 - self.b1) * di for mi, di in zip(m, d)]
        self.v = [self.b2 * vi + (1 - self.b2) * di * di for vi, di in zip(v, d)]
        mh = [mi / (1 - self.b1**self.t) for mi in self.m]
        vh = [vi / (1 - self.b2**self.t) for vi in self.v]
        return [wi - self.lr * mi / (vi.sqrt() + self.eps) for wi, mi, vi in zip(w, mh, vh)]


#: the base optimizers a reference is compared under: (torch optimizer, its float64 twin)
BASES: dict[str, tuple[Callable[[Sequence[torch.Tensor]], torch.optim.Optimizer], Callable[[], RefSGD | RefAdam]]] = {
    "sgd": (lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01), lambda: RefSGD(0.1, 0.9, 0.01)),
    "adam": (lambda p: torch.optim.Adam(p, lr=0.05), lambda: RefAdam(0.05)),
}
