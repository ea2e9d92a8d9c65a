"""Each rule's update against an independent float64 computation (linear model, MSE, three steps)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import sharpreg_plugins.rules as first_party
from sharpreg.engine import SharpnessStep

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


def reference_direction(name: str, p, w, x, t, rho: float):
    """(final gradient, decoupled extra term or None) for one step of rule ``name``."""
    g = grad(w, x, t)
    if name == "none":
        return g, None
    eps = p.eps
    if name == "asam":
        T = [w[0].abs() + p.eta, torch.ones_like(w[1]) if p.scope == "weights_only" else w[1].abs() + p.eta]
        tg = [ti * gi for ti, gi in zip(T, g)]
        e = [rho * ti * ti * gi / (norm(tg) + eps) for ti, gi in zip(T, g)]
        return grad(axpy(1.0, e, w), x, t), None
    e = [rho * gi / (norm(g) + eps) for gi in g]
    gp = grad(axpy(1.0, e, w), x, t)
    if name == "sam":
        return gp, None
    if name == "gsam":
        c = inner(g, gp) / inner(gp, gp)
        g_perp = axpy(-c, gp, g)
        return axpy(-p.alpha, g_perp, gp), None
    if name == "wsam":
        a = p.gamma / (1 - p.gamma)
        if p.decoupled:
            return g, [a * (gpi - gi) for gpi, gi in zip(gp, g)]
        return [(1 - a) * gi + a * gpi for gi, gpi in zip(g, gp)], None
    if name == "crsam":
        gm = grad(axpy(-1.0, e, w), x, t)
        return [
            gpi + p.gamma * (gpi + gmi - 2 * gi) + p.beta * (gpi - gmi) for gi, gpi, gmi in zip(g, gp, gm)
        ], None
    raise AssertionError(name)


class RefSGD:
    def __init__(self, lr: float, momentum: float, wd: float) -> None:
        self.lr, self.mu, self.wd, self.buf = lr, momentum, wd, None

    def step(self, w, d):
        d = [di + self.wd * wi for di, wi in zip(d, w)]
        self.buf = d if self.buf is None else [self.mu * bi + di for bi, di in zip(self.buf, d)]
        return [wi - self.lr * bi for wi, bi in zip(w, self.buf)]


class RefAdam:
    def __init__(self, lr: float, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> None:
        self.lr, self.b1, self.b2, self.eps, self.t, self.m, self.v = lr, b1, b2, eps, 0, None, None

    def step(self, w, d):
        self.t += 1
        if self.m is None:
            self.m = [torch.zeros_like(x) for x in w]
            self.v = [torch.zeros_like(x) for x in w]
        self.m = [self.b1 * m + (1 - self.b1) * di for m, di in zip(self.m, d)]
        self.v = [self.b2 * v + (1 - self.b2) * di * di for v, di in zip(self.v, d)]
        mh = [m / (1 - self.b1**self.t) for m in self.m]
        vh = [v / (1 - self.b2**self.t) for v in self.v]
        return [wi - self.lr * m / (v.sqrt() + self.eps) for wi, m, v in zip(w, mh, vh)]


CASES = [
    ("none", {}),
    ("sam", {"rho": 0.3}),
    ("asam", {"rho": 0.5, "eta": 0.01}),
    ("asam", {"rho": 1.0, "eta": 0.0, "scope": "all"}),
    ("gsam", {"rho": 0.3, "alpha": 0.5, "rho_schedule": "constant"}),
    ("wsam", {"rho": 0.3, "gamma": 0.8}),
    ("wsam", {"rho": 0.3, "gamma": 0.8, "decoupled": False}),
    ("crsam", {"rho": 0.3, "gamma": 0.2, "beta": 0.1}),
]


def run_engine(name, kwargs, base, steps=3, lrs=None, lr_range=None):
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
    engine = SharpnessStep(model, opt, spec.factory(params), params, lr_range=lr_range)
    outs = []
    for s in range(steps):
        if lrs is not None:
            opt.param_groups[0]["lr"] = lrs[s]
        x, t = data(s)
        outs.append(engine.step([(x, t)], nn.functional.mse_loss))
    return [model.weight.detach(), model.bias.detach()], outs, params


def run_reference(name, params, base, steps=3, rhos=None, lrs=None):
    w = list(init())
    opt = RefSGD(0.1, 0.9, 0.01) if base == "sgd" else RefAdam(0.05)
    for s in range(steps):
        lr = lrs[s] if lrs is not None else opt.lr
        opt.lr = lr
        x, t = data(s)
        rho = rhos[s] if rhos is not None else getattr(params, "rho", 0.0)
        d, extra = reference_direction(name, params, w, x, t, rho)
        w = opt.step(w, d)
        if extra is not None:
            w = [wi - lr * ei for wi, ei in zip(w, extra)]
    return w


@pytest.mark.parametrize("base", ["sgd", "adam"])
@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_update_equals_float64_reference(name, kwargs, base):
    got, _, params = run_engine(name, kwargs, base)
    want = run_reference(name, params, base)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_gsam_rho_follows_the_learning_rate():
    lrs = [0.1, 0.06, 0.02]
    lr_min, lr_max, rho_max, rho_min = 0.0, 0.1, 0.4, 0.1
    rhos = [rho_min + (rho_max - rho_min) * (lr - lr_min) / (lr_max - lr_min) for lr in lrs]
    kwargs = {"rho": rho_max, "rho_min": rho_min, "alpha": 0.3, "rho_schedule": "lr"}
    got, outs, params = run_engine("gsam", kwargs, "sgd", lrs=lrs, lr_range=(lr_min, lr_max))
    assert [o.diagnostics["rho"] for o in outs] == pytest.approx(rhos)
    want = run_reference("gsam", params, "sgd", rhos=rhos, lrs=lrs)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_diagnostics_match_their_definitions():
    got, outs, params = run_engine("gsam", {"rho": 0.3, "alpha": 0.5, "rho_schedule": "constant"}, "sgd", steps=1)
    w = list(init())
    x, t = data(0)
    g = grad(w, x, t)
    e = [0.3 * gi / (norm(g) + params.eps) for gi in g]
    gp = grad(axpy(1.0, e, w), x, t)
    d = outs[0].diagnostics
    assert d["sharpness"] == pytest.approx(loss(axpy(1.0, e, w), x, t) - loss(w, x, t), rel=1e-9)
    assert d["grad_norm"] == pytest.approx(norm(g), rel=1e-9)
    assert d["perturbation_norm"] == pytest.approx(norm(e), rel=1e-9)
    assert d["cos_g_gp"] == pytest.approx(inner(g, gp) / (norm(g) * norm(gp)), rel=1e-9)
    assert d["rho"] == 0.3 and outs[0].passes == 2


def test_sam_cosine_diagnostic_without_keeping_g():
    """SAM releases g; its cos(g, g_p) comes from the perturbation e ∝ g."""
    _, outs, params = run_engine("sam", {"rho": 0.3}, "sgd", steps=1)
    w = list(init())
    x, t = data(0)
    g = grad(w, x, t)
    gp = grad(axpy(0.3 / norm(g), g, w), x, t)
    assert outs[0].diagnostics["cos_g_gp"] == pytest.approx(inner(g, gp) / (norm(g) * norm(gp)), rel=1e-6)


@pytest.mark.parametrize("name", ["sam", "asam", "gsam", "wsam", "crsam"])
@pytest.mark.parametrize("base", ["sgd", "adam"])
def test_rho_zero_is_the_base_optimizer_bit_for_bit(name, base):
    kw = {"rho": 0.0, **({"rho_min": 0.0} if name == "gsam" else {})}
    a, _, _ = run_engine(name, kw, base)
    b, _, _ = run_engine("none", {}, base)
    assert all(torch.equal(x, y) for x, y in zip(a, b))


def test_wsam_coupled_rho_zero_bit_for_bit():
    a, _, _ = run_engine("wsam", {"rho": 0.0, "decoupled": False}, "adam")
    b, _, _ = run_engine("none", {}, "adam")
    assert all(torch.equal(x, y) for x, y in zip(a, b))


def test_perturb_weight_decay_adds_wd_w_to_the_ascent_gradient():
    spec = SPECS["sam"]
    for flag in (False, True):
        params = spec.params(rho=0.3, perturb_weight_decay=flag)
        got, _, _ = run_engine("sam", {"rho": 0.3, "perturb_weight_decay": flag}, "sgd", steps=1)
        w = list(init())
        x, t = data(0)
        g = grad(w, x, t)
        ga = [gi + (0.01 * wi if flag else 0.0) for gi, wi in zip(g, w)]
        gp = grad(axpy(0.3 / (norm(ga) + params.eps), ga, w), x, t)
        want = RefSGD(0.1, 0.9, 0.01).step(w, gp)
        for a, b in zip(got, want):
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
