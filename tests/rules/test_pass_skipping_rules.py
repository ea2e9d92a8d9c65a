"""LookSAM and RST: updates against float64 references over steps of both kinds, passes counted by
forward calls, the random draws (reproducible, resumable, off the global generators)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from float64_reference import SPECS, RefAdam, RefSGD, axpy, data, grad, init, inner, norm, run_engine
from sharpreg.engine import SharpnessStep
from sharpreg.errors import SharpregError
from sharpreg.testing import check_state_roundtrip, tiny_batches, tiny_model

STEPS = 8


def ref_optimizer(base: str):
    return RefSGD(0.1, 0.9, 0.01) if base == "sgd" else RefAdam(0.05)


def sam_gradient(p, w, x, t):
    g = grad(w, x, t)
    return g, grad(axpy(p.rho / (norm(g) + p.eps), g, w), x, t)


def looksam_reference(p, base: str, steps: int = STEPS) -> tuple[list[torch.Tensor], list[int]]:
    """LookSAM by hand: (weights, passes of each step)."""
    w, opt, gv, passes = list(init()), ref_optimizer(base), None, []
    for s in range(steps):
        x, t = data(s)
        if gv is None or s % p.k == 0:
            g, gs = sam_gradient(p, w, x, t)
            if p.scope == "global":
                gv = axpy(-inner(g, gs) / inner(g, g), g, gs)
            else:
                gv = [b - float((a * b).sum() / (a * a).sum()) * a for a, b in zip(g, gs)]
            d, n = gs, 2
        else:
            g, n = grad(w, x, t), 1
            if p.scope == "global":
                d = axpy(p.alpha * norm(g) / (norm(gv) + p.eps), gv, g)
            else:
                d = [a + p.alpha * math.sqrt(float((a * a).sum())) / (math.sqrt(float((v * v).sum())) + p.eps) * v
                     for a, v in zip(g, gv)]
        w = opt.step(w, d)
        passes.append(n)
    return w, passes


def rst_reference(p, base: str, sam_steps: list[bool]) -> list[torch.Tensor]:
    """SAM where ``sam_steps`` says so, the base optimizer's plain step elsewhere."""
    w, opt = list(init()), ref_optimizer(base)
    for s, is_sam in enumerate(sam_steps):
        x, t = data(s)
        w = opt.step(w, sam_gradient(p, w, x, t)[1] if is_sam else grad(w, x, t))
    return w


def close(got, want):
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("base", ["sgd", "adam"])
@pytest.mark.parametrize("scope", ["global", "per_tensor"])
def test_looksam_equals_float64_reference(scope, base):
    kw = {"rho": 0.3, "k": 3, "alpha": 0.7, "scope": scope}
    got, outs, params = run_engine("looksam", kw, base, steps=STEPS)
    want, passes = looksam_reference(params, base)
    assert [o.passes for o in outs] == passes == [2, 1, 1, 2, 1, 1, 2, 1]
    close(got, want)


@pytest.mark.parametrize("base", ["sgd", "adam"])
@pytest.mark.parametrize("schedule", ["constant", "linear"])
def test_rst_equals_float64_reference(schedule, base):
    kw = {"rho": 0.3, "p": 0.5, "schedule": schedule, "p_start": 0.2, "seed": 4}
    got, outs, params = run_engine("rst", kw, base, steps=STEPS, total_steps=STEPS)
    sam_steps = [o.passes == 2 for o in outs]
    assert any(sam_steps) and not all(sam_steps)  # steps of both kinds
    close(got, rst_reference(params, base, sam_steps))


def test_looksam_k1_is_sam_and_rst_p1_is_sam_p0_is_base():
    sam, _, _ = run_engine("sam", {"rho": 0.3}, "adam", steps=4)
    assert all(torch.equal(a, b) for a, b in zip(sam, run_engine("looksam", {"rho": 0.3, "k": 1}, "adam", steps=4)[0]))
    assert all(torch.equal(a, b) for a, b in zip(sam, run_engine("rst", {"rho": 0.3, "p": 1.0}, "adam", steps=4)[0]))
    base, _, _ = run_engine("none", {}, "adam", steps=4)
    p0, outs, _ = run_engine("rst", {"rho": 0.3, "p": 0.0}, "adam", steps=4)
    assert all(torch.equal(a, b) for a, b in zip(base, p0)) and {o.passes for o in outs} == {1}


# -- passes actually run ------------------------------------------------------------------------
class Counted(nn.Module):
    """A small MLP that counts its forward calls."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(3)
        self.net = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.net(x)


def batch(s: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(50 + s)
    return torch.randn(16, 6, generator=g), torch.randint(0, 3, (16,), generator=g)


@pytest.mark.parametrize("name,kw", [("looksam", {"k": 3}), ("rst", {"p": 0.5, "seed": 1}), ("sam", {}), ("none", {})])
def test_the_engine_runs_exactly_the_passes_a_step_asks_for(name, kw):
    m = Counted()
    params = SPECS[name].params(**kw)
    engine = SharpnessStep(m, torch.optim.SGD(m.parameters(), lr=0.1), SPECS[name].factory(params), params)
    asked, reported = [], []
    for s in range(12):
        asked.append(engine.rule.passes(engine.step_count))
        micro = list(zip(*(t.chunk(2) for t in batch(s))))  # two micro-batches: two forwards per pass
        reported.append(engine.step(micro, nn.functional.cross_entropy).passes)
    assert m.calls == 2 * sum(asked) and reported == asked
    if name in ("looksam", "rst"):
        assert 12 < sum(asked) < 24


def test_the_adapters_run_the_same_passes():
    """perturbed() and SharpnessOptimizer.step(closure) ask the rule too: one closure call on reuse steps."""
    from sharpreg.engine import SharpnessOptimizer, perturbed

    params = SPECS["looksam"].params(k=3)
    m, n = Counted(), Counted()
    opt = SharpnessOptimizer(m, torch.optim.SGD(m.parameters(), lr=0.1), SPECS["looksam"].factory(params), config=params)
    engine = SharpnessStep(n, torch.optim.SGD(n.parameters(), lr=0.1), SPECS["looksam"].factory(params), params)
    for s in range(6):
        x, y = batch(s)

        def closure():
            opt.zero_grad()
            out = nn.functional.cross_entropy(m(x), y)
            out.backward()
            return out

        opt.step(closure)
        with perturbed(engine) as step:
            for _ in step.passes():
                step.backward(nn.functional.cross_entropy(n(x), y))
    assert m.calls == n.calls == 6 + 2  # SAM steps at 0 and 3
    for a, b in zip(m.parameters(), n.parameters()):
        torch.testing.assert_close(a, b)


def test_looksam_per_tensor_matches_pytorch_optimizer_with_half_the_passes():
    po = pytest.importorskip("pytorch_optimizer")
    steps, loss_fn = 6, nn.functional.cross_entropy
    theirs = Counted()
    opt = po.LookSAM(theirs.parameters(), torch.optim.SGD, rho=0.2, k=3, alpha=0.7, lr=0.1, momentum=0.9)
    for s in range(steps):
        x, y = batch(s)

        def closure():
            opt.zero_grad()
            out = loss_fn(theirs(x), y)
            out.backward()
            return out

        closure()
        opt.step(closure)
    ours = Counted()
    params = SPECS["looksam"].params(rho=0.2, k=3, alpha=0.7, scope="per_tensor", eps=1e-8)
    engine = SharpnessStep(ours, torch.optim.SGD(ours.parameters(), lr=0.1, momentum=0.9),
                           SPECS["looksam"].factory(params), params)
    for s in range(steps):
        engine.step([batch(s)], loss_fn)
    for a, b in zip(ours.parameters(), theirs.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert theirs.calls == 2 * steps  # a second pass on every step
    assert ours.calls == steps + steps // 3  # SAM steps at 0 and 3 only


# -- RST's draws --------------------------------------------------------------------------------
def rst(**kw):
    return SPECS["rst"].factory(SPECS["rst"].params(**kw))


def pattern(rule, n: int) -> list[int]:
    return [rule.passes(s) for s in range(n)]


def test_rst_draws_are_reproducible_and_leave_the_global_generators_alone():
    torch.manual_seed(123)
    np.random.seed(5)
    before_torch, before_np = torch.get_rng_state(), np.random.get_state()[1].copy()
    a = pattern(rst(seed=9), 400)
    assert torch.equal(before_torch, torch.get_rng_state()) and np.array_equal(before_np, np.random.get_state()[1])
    assert a == pattern(rst(seed=9), 400) != pattern(rst(seed=10), 400)
    torch.manual_seed(77)
    assert rst().seed == 77  # default: torch's seed when the rule is built (train.seed in a run)
    fraction = (np.array(a) == 2).mean()
    assert abs(fraction - 0.5) < 4 * math.sqrt(0.25 / 400)  # Bernoulli(0.5), 4 standard errors


def test_rst_linear_schedule_follows_the_run():
    rule = rst(seed=2, p=0.8, p_start=0.0, schedule="linear")
    with pytest.raises(SharpregError, match="total_steps"):
        rule.passes(0)
    rule.set_total_steps(1001)
    assert rule.probability(0) == 0.0 and rule.probability(500) == pytest.approx(0.4) and rule.probability(1000) == 0.8
    sam = np.array(pattern(rule, 1001)) == 2
    assert sam[:200].mean() < 0.2 < 0.6 < sam[-200:].mean()


def test_rst_state_is_its_seed_and_a_resumed_rule_draws_the_same():
    a = rst(seed=31)
    b = rst(seed=1)
    b.load_state_dict(a.state_dict())
    assert pattern(a, 300) == pattern(b, 300)


@pytest.mark.parametrize("name", ["looksam", "rst"])
def test_the_resume_check_fails_when_the_rule_forgets_its_state(name, monkeypatch):
    """The kit's resume check (run on every rule in test_testing_kit) catches a lost state."""
    spec = SPECS[name]
    monkeypatch.setattr(spec.factory, "load_state_dict", lambda self, state: None)
    with pytest.raises(AssertionError, match="resumed run differs"):
        check_state_roundtrip(spec)


def test_looksam_state_is_one_weight_sized_buffer_and_its_norm():
    model = tiny_model(0)
    params = SPECS["looksam"].params()
    engine = SharpnessStep(model, torch.optim.SGD(model.parameters(), lr=0.05), SPECS["looksam"].factory(params), params)
    engine.step(tiny_batches(), nn.functional.cross_entropy)
    state = engine.rule.state_dict()
    assert [t.shape for t in state["gv"]] == [p.shape for p in model.parameters()]
    assert state["gv_norm"].ndim == 0 and float(state["gv_norm"]) > 0
