"""Agreement with the pytorch-optimizer package's SAM, GSAM and WSAM where their semantics match
(a model without BatchNorm or dropout, where their BN handling and ours coincide)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import sharpreg_plugins.rules as first_party
from sharpreg.build import build_rho_schedule
from sharpreg.engine import SharpnessStep
from sharpreg.specs import SchedulePlan

po = pytest.importorskip("pytorch_optimizer")
SPECS = {s.name: s for s in first_party.sharpreg_sharpness_rules()}
STEPS = 4


def model() -> nn.Module:
    torch.manual_seed(3)
    return nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))


def batch(s: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(50 + s)
    return torch.randn(16, 6, generator=g), torch.randint(0, 3, (16,), generator=g)


loss_fn = nn.functional.cross_entropy


def ours(name: str, sched=None, lr_range=None, **kw) -> nn.Module:
    m = model()
    opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    lr_sched = sched(opt) if sched else None
    params = SPECS[name].params(**kw)
    schedule = build_rho_schedule(params, SchedulePlan(lr_range=lr_range or (0.0, 0.1)))
    engine = SharpnessStep(m, opt, SPECS[name].factory(params), params, rho_schedule=schedule)
    for s in range(STEPS):
        engine.step([batch(s)], loss_fn)
        if lr_sched:
            lr_sched.step()
    return m


def close(a: nn.Module, b: nn.Module) -> None:
    for x, y in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(x, y, rtol=1e-5, atol=1e-6)


def closure_for(m, opt, x, y):
    def closure():
        opt.zero_grad()
        loss = loss_fn(m(x), y)
        loss.backward()
        return loss

    return closure


def test_sam_matches_pytorch_optimizer_foreach_sam():
    m = model()
    opt = po.SAM(m.parameters(), torch.optim.SGD, rho=0.2, lr=0.1, momentum=0.9, foreach=True)
    for s in range(STEPS):
        x, y = batch(s)
        c = closure_for(m, opt, x, y)
        c()
        opt.step(c)
    close(ours("sam", rho=0.2), m)


@pytest.mark.parametrize("decoupled", [True, False])
def test_wsam_matches_pytorch_optimizer(decoupled):
    m = model()
    opt = po.WSAM(m, m.parameters(), torch.optim.SGD, rho=0.2, gamma=0.8, decouple=decoupled, lr=0.1, momentum=0.9)
    for s in range(STEPS):
        x, y = batch(s)
        opt.step(closure_for(m, opt, x, y))
    close(ours("wsam", rho=0.2, gamma=0.8, decoupled=decoupled), m)


def test_gsam_matches_pytorch_optimizer_with_lr_proportional_rho():
    def sched(opt):
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0 - 0.2 * s)

    m = model()
    base = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    lr_sched = sched(base)
    rho_sched = po.ProportionScheduler(lr_sched, max_lr=0.1, min_lr=0.0, max_value=0.3, min_value=0.05)
    opt = po.GSAM(m.parameters(), base, m, rho_sched, alpha=0.4)
    for s in range(STEPS):
        x, y = batch(s)
        opt.set_closure(loss_fn, x, y)
        opt.step()
        lr_sched.step()
        opt.update_rho_t()
    close(ours("gsam", sched=sched, lr_range=(0.0, 0.1), rho=0.3, rho_min=0.05, alpha=0.4, rho_schedule="lr"), m)
