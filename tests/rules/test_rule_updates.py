"""Each rule's update against an independent float64 computation (linear model, MSE, three steps)."""

from __future__ import annotations

import pytest
import torch

from float64_reference import SPECS, RefAdam, RefSGD, axpy, data, grad, init, inner, loss, norm, run_engine


def reference_direction(name: str, p, w, x, t, rho: float):
    """(final gradient, decoupled extra term or None) for one step of rule ``name``."""
    g = grad(w, x, t)
    if name == "none":
        return g, None
    eps = p.eps
    if name == "asam":
        T = [w[0].abs() + p.eta, w[1].abs() + p.eta if p.scope == "all" else torch.ones_like(w[1])]
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


CASES = [
    ("none", {}),
    ("sam", {"rho": 0.3}),
    ("asam", {"rho": 0.5, "eta": 0.01}),
    ("asam", {"rho": 1.0, "eta": 0.0, "scope": "all"}),
    ("gsam", {"rho": 0.3, "alpha": 0.5, "rho_schedule": "constant"}),
    ("wsam", {"rho": 0.3, "gamma": 0.8}),
    ("wsam", {"rho": 0.3, "gamma": 0.8, "decoupled": False}),
    ("crsam", {"rho": 0.3, "gamma": 0.2, "beta": 0.1}),
    ("crsam", {"rho": 0.3, "gamma": 0.05, "beta": 0.5}),
    ("crsam", {"rho": 0.3, "gamma": 0.0, "beta": 0.1}),
]


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
