"""Kits for metrics, losses, radius schedules and callbacks: what the core relies on, checked on small
synthetic inputs. Each check raises ``AssertionError`` with a message that says what is wrong."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from ..metrics import Cases
from ..specs import (CallbackContext, CallbackSpec, LossContext, LossSpec, MetricSpec, PluginParams, PluginSpec,
                     RuleParams, SchedulePlan, ScheduleSpec)


def check_plugin_params(spec: PluginSpec) -> None:
    """Unknown keys are errors, every field is described, the defaults validate."""
    assert isinstance(spec.params, type) and issubclass(spec.params, PluginParams)
    spec.params()
    with pytest.raises(ValidationError):
        spec.params(**{"not_a_parameter_of_this_plugin": 1})
    for name, f in spec.params.model_fields.items():
        assert f.description, f"{spec.kind} {spec.name}: parameter {name!r} has no description"


def _cases(k: int, quality: float, seed: int = 0, n: int = 60) -> Cases:
    """``n`` cases of ``k`` classes (every class present); ``quality`` 1 = the true class gets most of the
    probability, 0 = probabilities unrelated to the labels."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % k
    rng.shuffle(labels)
    noise = rng.dirichlet(np.ones(k), size=n)
    probs = (1 - quality) * noise + quality * (0.6 * np.eye(k)[labels] + 0.4 * noise)
    return Cases(labels, probs / probs.sum(axis=1, keepdims=True), positive=k - 1)


def check_metric_spec(spec: MetricSpec, config: Any = None) -> None:
    """The parameters; ``factory(config)`` gives a function of :class:`sharpreg.metrics.Cases` that returns
    a finite float on binary (and multi-class, unless binary-only) cases, leaves its input unchanged, gives
    the same value twice, and rates good predictions better than chance as its ``better`` says."""
    assert isinstance(spec, MetricSpec), f"expected a MetricSpec, got {type(spec).__name__}"
    check_plugin_params(spec)
    score = spec.factory(config if config is not None else spec.params())
    assert callable(score), f"metric {spec.name}: the factory must return a function score(cases) -> float"
    for k in ([2] if spec.task == "binary" else [3] if spec.task == "multiclass" else [2, 3]):
        good, chance = _cases(k, 1.0), _cases(k, 0.0)
        labels, probs = good.labels.copy(), good.probs.copy()
        value = score(good)
        assert isinstance(value, (float, int, np.floating)) and math.isfinite(float(value)), (
            f"metric {spec.name}: {value!r} on {k}-class cases is not a finite number")
        assert np.array_equal(good.labels, labels) and np.array_equal(good.probs, probs), (
            f"metric {spec.name}: changed its input")
        assert float(score(good)) == float(value), f"metric {spec.name}: two calls on the same cases differ"
        better = float(value) > float(score(chance)) if spec.better == "higher" else float(value) < float(score(chance))
        assert better, (f"metric {spec.name}: rates confident correct predictions ({float(value):.3g}) no better "
                        f"than chance ({float(score(chance)):.3g}) on {k} classes, yet says {spec.better} is better")


def check_loss_spec(spec: LossSpec, config: Any = None) -> None:
    """The parameters; the loss built for two and three classes (with and without known class counts) is a
    finite scalar with finite gradients, a mean over the batch (a doubled batch gives the same value), and
    lower for correct than for wrong confident logits."""
    assert isinstance(spec, LossSpec), f"expected a LossSpec, got {type(spec).__name__}"
    check_plugin_params(spec)
    config = config if config is not None else spec.params()
    gen = torch.Generator().manual_seed(0)
    for k in (2, 3):
        for counts in (tuple(range(3, 3 + k)), None):
            fn = spec.factory(config, LossContext(num_classes=k, class_counts=counts))
            assert callable(fn), f"loss {spec.name}: the factory must return a callable (logits, labels) -> loss"
            logits = torch.randn(8, k, generator=gen, requires_grad=True)
            labels = torch.arange(8) % k
            value = fn(logits, labels)
            assert isinstance(value, torch.Tensor) and value.ndim == 0 and torch.isfinite(value), f"loss {spec.name}: {value!r} is not a finite scalar"
            (grad,) = torch.autograd.grad(value, logits)
            assert torch.isfinite(grad).all(), f"loss {spec.name}: non-finite gradient"
            doubled = fn(torch.cat([logits, logits]).detach(), torch.cat([labels, labels]))
            assert torch.allclose(doubled, value.detach(), rtol=1e-5, atol=1e-7), (
                f"loss {spec.name}: a doubled batch gives {float(doubled):.6g}, not {float(value.detach()):.6g}: reduce "
                "by the mean")
            right = 6.0 * torch.nn.functional.one_hot(labels, k).float()
            assert fn(right, labels) < fn(-right, labels), f"loss {spec.name}: correct logits do not give a lower loss"


def check_schedule_spec(spec: ScheduleSpec, config: Any = None, rule: RuleParams | None = None) -> None:
    """The parameters; the schedule gives a finite radius >= 0 at every step of a run with a cosine learning
    rate, the same radius for the same (step, lr), and 0 throughout when the rule's rho and rho_min are 0."""
    assert isinstance(spec, ScheduleSpec), f"expected a ScheduleSpec, got {type(spec).__name__}"
    check_plugin_params(spec)
    config = config if config is not None else spec.params()
    rule = rule if rule is not None else RuleParams(rho=0.1, rho_min=0.01)
    steps = 20
    lrs = [0.05 * 0.5 * (1 + math.cos(math.pi * s / steps)) for s in range(steps)]
    plan = SchedulePlan(lr_range=(min(lrs), max(lrs)), total_steps=steps)
    schedule = spec.factory(config, rule, plan)
    assert callable(getattr(schedule, "rho", None)), f"schedule {spec.name}: no rho(step, lr) method"
    for s, lr in enumerate(lrs):
        rho = float(schedule.rho(s, lr))
        assert math.isfinite(rho) and rho >= 0, f"schedule {spec.name}: rho = {rho} at step {s}"
        assert float(spec.factory(config, rule, plan).rho(s, lr)) == rho, f"schedule {spec.name}: not a pure function"
    zero = spec.factory(config, RuleParams(rho=0.0, rho_min=0.0), plan)
    assert all(float(zero.rho(s, lr)) == 0.0 for s, lr in enumerate(lrs)), (
        f"schedule {spec.name}: rho = 0 must stay 0 (the base optimizer)")


def check_callback_spec(spec: CallbackSpec, run_path: Path, config: Any = None) -> None:
    """The parameters; the callback builds for a run folder, and every hook it defines accepts what the
    trainer passes (the resolved recipe, an epoch's metrics row, the run folder)."""
    assert isinstance(spec, CallbackSpec), f"expected a CallbackSpec, got {type(spec).__name__}"
    check_plugin_params(spec)
    cb = spec.factory(config if config is not None else spec.params(), CallbackContext(run_path, "kit"))
    hooks = [h for h in ("on_start", "on_epoch_end", "on_end") if callable(getattr(cb, h, None))]
    assert hooks, f"callback {spec.name}: defines none of on_start, on_epoch_end, on_end"
    if "on_start" in hooks:
        cb.on_start({"schema_version": 1, "meta": {"name": "kit"}, "train": {"epochs": 1}})
    if "on_epoch_end" in hooks:
        cb.on_epoch_end(1, {"epoch": 1, "train_loss": 0.5, "val_auroc": 0.75, "lr": 0.01})
    if "on_end" in hooks:
        cb.on_end(run_path)
