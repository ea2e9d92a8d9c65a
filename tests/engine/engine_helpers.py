"""Helpers of the engine tests: the first-party rule specs, small models, an engine factory."""

from __future__ import annotations

import torch
from torch import nn

import sharpreg_plugins.rules as first_party
from sharpreg.build import build_rho_schedule
from sharpreg.engine import SharpnessStep
from sharpreg.specs import SchedulePlan

SPECS = {s.name: s for s in first_party.sharpreg_sharpness_rules()}


def make_engine(model: nn.Module, name: str = "sam", *, opt: str = "sgd", lr: float = 0.05,
                lr_range: tuple[float, float] | None = None, **kw) -> SharpnessStep:
    engine_kw = {k: kw.pop(k) for k in ("precision", "clip_grad_norm") if k in kw}
    spec = SPECS[name]
    params = spec.params(**kw)
    engine_kw["rho_schedule"] = build_rho_schedule(params, SchedulePlan(lr_range=lr_range or (0.0, lr)))
    if opt == "sgd":
        o = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=1e-4)
    else:
        o = torch.optim.Adam(model.parameters(), lr=lr)
    return SharpnessStep(model, o, spec.factory(params), params, **engine_kw)




def bn_cnn(seed: int = 0, momentum: float | None = 0.1, dropout: float = 0.0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4, momentum=momentum),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Linear(16, 2),
    )


def images(seed: int, n: int = 8, size: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 1, size, size, generator=g), torch.randint(0, 2, (n,), generator=g)


