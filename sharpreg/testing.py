"""A test kit for sharpness-rule authors (also a pytest plugin: the ``sharpreg_check_rule`` fixture).

In a third-party package's tests::

    from sharpreg.testing import check_rule_spec
    from sharpreg_fisher_sam import FISHER_SPEC

    def test_fisher_sam_contract():
        check_rule_spec(FISHER_SPEC)

or, with the fixture the installed plugin provides::

    def test_fisher_sam_contract(sharpreg_check_rule):
        sharpreg_check_rule(FISHER_SPEC)

The checks: the parameters forbid unknown keys, every field is described and the defaults validate;
one step runs on CPU (a tiny CNN with BatchNorm and dropout, two micro-batches); ``rho = 0`` gives the
base optimizer's weights bit for bit (or within ``rho0_atol``); the engine state survives
``torch.save`` / ``torch.load(weights_only=True)`` and the resumed run equals the uninterrupted one;
two runs from one seed are identical.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from typing import Any

import pytest
import torch
from pydantic import ValidationError
from torch import nn

from .engine.rule import PlainRule
from .engine.step import SharpnessStep
from .specs import EngineParams, RuleSpec

__all__ = ["check_rule_spec", "tiny_batches", "tiny_model"]


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


def _engine(spec: RuleSpec | None, config: Any, seed: int) -> SharpnessStep:
    model = tiny_model(seed)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-3)
    rule = PlainRule(None) if spec is None else spec.factory(config)
    return SharpnessStep(model, opt, rule, config)


def _run(engine: SharpnessStep, steps: int, seed: int = 1) -> None:
    for _ in range(steps):
        torch.manual_seed(1234 + engine.step_count)  # dropout masks depend on the step only
        engine.step(tiny_batches(seed + engine.step_count), nn.functional.cross_entropy)


def _weights(engine: SharpnessStep) -> list[torch.Tensor]:
    return [t.detach().clone() for t in engine.model.state_dict().values()]


def _same(a: list[torch.Tensor], b: list[torch.Tensor], atol: float = 0.0) -> bool:
    if atol == 0.0:
        return all(torch.equal(x, y) for x, y in zip(a, b))
    return all(torch.allclose(x.double(), y.double(), rtol=0.0, atol=atol) for x, y in zip(a, b))


def check_params(spec: RuleSpec) -> None:
    """Unknown keys are errors, every field is described, the defaults validate."""
    assert issubclass(spec.params, EngineParams), f"{spec.name}: Params must subclass sharpreg.EngineParams"
    spec.params()
    with pytest.raises(ValidationError):
        spec.params(**{"not_a_parameter_of_this_rule": 1})
    for name, f in spec.params.model_fields.items():
        assert f.description, f"{spec.name}: parameter {name!r} has no description"


def check_one_step(spec: RuleSpec) -> None:
    """One step on CPU changes the weights and reports finite loss and float diagnostics."""
    config = spec.params()
    engine = _engine(spec, config, 0)
    before = _weights(engine)
    out = engine.step(tiny_batches(), nn.functional.cross_entropy)
    assert math.isfinite(out.loss), f"{spec.name}: loss {out.loss}"
    assert not out.skipped
    assert out.passes == engine.rule.passes(0)
    assert all(isinstance(v, float) for v in out.diagnostics.values())
    assert not _same(before, _weights(engine)), f"{spec.name}: one step left the weights unchanged"


def check_rho_zero(spec: RuleSpec, atol: float = 0.0) -> None:
    """``rho = 0`` gives the base optimizer's result (bit for bit when ``atol = 0``)."""
    fields = spec.params.model_fields
    if "rho" not in fields:
        return
    zero = {"rho": 0.0, **({"rho_min": 0.0} if "rho_min" in fields else {})}
    config = spec.params(**zero)
    a, b = _engine(spec, config, 0), _engine(None, config, 0)
    _run(a, 3)
    _run(b, 3)
    assert _same(_weights(a), _weights(b), atol), f"{spec.name}: rho = 0 differs from the base optimizer"


def check_state_roundtrip(spec: RuleSpec) -> None:
    """State through torch.save/torch.load(weights_only=True); resumed run == uninterrupted run
    (four steps after the resume, so a rule that draws its passes at random shows a lost state)."""
    config = spec.params()
    ref = _engine(spec, config, 0)
    _run(ref, 6)
    first = _engine(spec, config, 0)
    _run(first, 2)
    buf = io.BytesIO()
    torch.save({"engine": first.state_dict(), "model": first.model.state_dict()}, buf)
    buf.seek(0)
    saved = torch.load(buf, weights_only=True)
    resumed = _engine(spec, config, 7)
    resumed.model.load_state_dict(saved["model"])
    resumed.load_state_dict(saved["engine"])
    assert resumed.step_count == 2
    _run(resumed, 4)
    assert _same(_weights(ref), _weights(resumed)), f"{spec.name}: a resumed run differs from an uninterrupted one"


def check_determinism(spec: RuleSpec) -> None:
    """Two runs from one seed give identical weights."""
    config = spec.params()
    a, b = _engine(spec, config, 0), _engine(spec, config, 0)
    _run(a, 2)
    _run(b, 2)
    assert _same(_weights(a), _weights(b)), f"{spec.name}: two runs from one seed differ"


def check_rule_spec(spec: RuleSpec, *, rho0_atol: float = 0.0) -> None:
    """Every check above. ``rho0_atol`` > 0 accepts a rule whose ``rho = 0`` step is only close."""
    assert isinstance(spec, RuleSpec), f"expected a RuleSpec, got {type(spec).__name__}"
    check_params(spec)
    check_one_step(spec)
    check_rho_zero(spec, rho0_atol)
    check_state_roundtrip(spec)
    check_determinism(spec)


@pytest.fixture
def sharpreg_check_rule() -> Callable[..., None]:
    """The :func:`check_rule_spec` function, as a fixture."""
    return check_rule_spec

