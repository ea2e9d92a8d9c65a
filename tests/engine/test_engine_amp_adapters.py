"""Mixed precision (fp16 overflow, bf16), the context manager and the Optimizer.step(closure) adapter."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import sharpreg
from engine_helpers import SPECS, bn_cnn, images, make_engine
from sharpreg.engine import SharpnessOptimizer, SharpnessStep
from sharpreg.errors import SharpregError

ce = nn.functional.cross_entropy


def _state(m: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in m.parameters()]


def test_fp16_overflow_in_the_clean_pass_skips_the_step():
    m = bn_cnn()
    engine = make_engine(m, "sam", precision="fp16")
    before = _state(m)
    scale = engine.scaler.get_scale()
    x, y = images(0)
    out = engine.step([(x * 1e6, y)], ce)  # fp16 activations overflow
    assert out.skipped and engine.skipped_steps == 1 and engine.step_count == 1
    assert all(torch.equal(a, b) for a, b in zip(before, m.parameters()))
    assert engine.scaler.get_scale() == scale / 2
    assert engine.optimizer.state == {}  # the base optimizer never stepped


@pytest.mark.parametrize("precision", ["fp16", "fp32"])
def test_non_finite_perturbed_pass_restores_and_skips(precision):
    m = bn_cnn()
    engine = make_engine(m, "wsam", precision=precision)
    before = _state(m)
    calls = []

    def loss_fn(out, y):
        calls.append(1)
        loss = ce(out, y)
        return loss * float("inf") if len(calls) == 2 else loss  # the perturbed pass blows up

    out = engine.step([images(0)], loss_fn)
    assert out.skipped and engine.skipped_steps == 1
    assert all(torch.equal(a, b) for a, b in zip(before, m.parameters()))
    out = engine.step([images(1)], ce)  # the next step runs normally
    assert not out.skipped and engine.skipped_steps == 1


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_low_precision_sam_step_is_close_to_fp32(precision):
    x, y = images(2)
    outs = {}
    for p in ("fp32", precision):
        m = bn_cnn()
        engine = make_engine(m, "sam", precision=p, lr=0.1)
        outs[p] = (engine.step([(x, y)], ce), _state(m))
    assert not outs[precision][0].skipped
    for a, b in zip(outs["fp32"][1], outs[precision][1]):
        torch.testing.assert_close(a, b, rtol=0.0, atol=5e-3)
    assert outs[precision][0].diagnostics["perturbation_norm"] == pytest.approx(0.05, rel=1e-3)


def test_bad_precision_is_a_clear_error():
    with pytest.raises(SharpregError, match="precision"):
        make_engine(bn_cnn(), "sam", precision="fp8")


def _loop_run(use_context: bool, steps: int = 3) -> list[torch.Tensor]:
    m = bn_cnn(dropout=0.2)
    engine = make_engine(m, "gsam", rho=0.2)
    for s in range(steps):
        torch.manual_seed(s)
        x, y = images(s)
        if use_context:
            with sharpreg.perturbed(engine) as step:
                for _ in step.passes():
                    with step.autocast():
                        loss = ce(m(x), y)
                    step.backward(loss)
            assert step.output is not None and step.output.passes == 2
        else:
            engine.step([(x, y)], ce)
    return _state(m) + [b.clone() for b in m.buffers()]


def test_context_manager_equals_engine_step():
    assert all(torch.equal(a, b) for a, b in zip(_loop_run(True), _loop_run(False)))


def test_context_manager_with_model_optimizer_rule_keeps_one_engine():
    m = bn_cnn()
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    rule = SPECS["sam"].factory(SPECS["sam"].params())
    for s in range(2):
        x, y = images(s)
        with sharpreg.perturbed(m, opt, rule) as step:
            for _ in step.passes():
                step.backward(ce(m(x), y))
    assert opt._sharpreg_engine.step_count == 2


def test_context_manager_restores_weights_when_the_block_raises():
    m = bn_cnn()
    engine = make_engine(m, "sam", rho=1.0)
    before = _state(m)
    x, y = images(0)
    with pytest.raises(ZeroDivisionError):
        with sharpreg.perturbed(engine) as step:
            for k in step.passes():
                step.backward(ce(m(x), y))
                if k == 1:
                    1 / 0
    assert all(torch.equal(a, b) for a, b in zip(before, m.parameters()))


def test_optimizer_adapter_runs_the_closure_first_and_equals_the_engine():
    x, y = images(3)
    m1, m2 = bn_cnn(), bn_cnn()
    e = make_engine(m1, "wsam")
    spec = SPECS["wsam"]
    opt = SharpnessOptimizer(
        m2, torch.optim.SGD(m2.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4), spec.factory(spec.params())
    )
    seen = []

    def closure():
        opt.zero_grad()
        loss = ce(m2(x), y)
        loss.backward()
        seen.append(float(loss.detach()))
        return loss

    sched = torch.optim.lr_scheduler.StepLR(opt, 1, gamma=0.5)  # schedulers accept it
    for _ in range(2):
        e.step([(x, y)], ce)
        first = opt.step(closure)
    assert len(seen) == 4 and float(first.detach()) == seen[2]
    assert all(torch.equal(a, b) for a, b in zip(m1.parameters(), m2.parameters()))
    sched.step()
    assert opt.param_groups[0]["lr"] == 0.025


def test_optimizer_adapter_refuses_missing_closure_and_fp16():
    m = bn_cnn()
    rule = SPECS["sam"].factory(SPECS["sam"].params())
    opt = SharpnessOptimizer(m, torch.optim.SGD(m.parameters(), lr=0.1), rule)
    with pytest.raises(SharpregError, match="closure"):
        opt.step()
    with pytest.raises(SharpregError, match="fp16"):
        SharpnessOptimizer(m, torch.optim.SGD(m.parameters(), lr=0.1), rule, precision="fp16")


def test_engine_state_roundtrip_rejects_foreign_state():
    engine = make_engine(bn_cnn(), "sam")
    with pytest.raises(SharpregError, match="not a sharpreg checkpoint"):
        engine.load_state_dict({"state": {}})
    assert isinstance(engine, SharpnessStep)
