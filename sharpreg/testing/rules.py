"""The rule kit: property checks that every sharpness rule must pass, and an optional float64 reference.

Each check raises ``AssertionError`` with a message that says what is wrong. The properties:

* **parameters**: unknown keys are errors, every field is described, the defaults validate;
* **one step** on a tiny CNN (BatchNorm, dropout, two micro-batches): finite loss, the weights move,
  float diagnostics, cos(g, g_p) within [−1, 1];
* **rho = 0** is the base optimizer: the final gradient handed to it is the clean gradient, bit for bit,
  at every step, and the weights after each step are the base optimizer's;
* **ascent**: for a small rho on a smooth problem, the first perturbed pass climbs the loss
  (L(w + e) > L(w)), from a fresh rule on three problems;
* **radius** (rules that declare ``radius(ctx, e)``): the perturbation's size in the rule's own norm is rho;
* **effect**: with rho > 0 the weights after three steps differ from the base optimizer's;
* **resume**: the engine state survives ``torch.save``/``torch.load(weights_only=True)`` and a resumed run
  equals an uninterrupted one; **determinism**: two runs from one seed are identical;
* **reference** (when the author supplies one): the engine's weights after three steps under SGD (momentum,
  weight decay) and under Adam equal the author's float64 reference step to 1e-9.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import pytest
import torch
from pydantic import ValidationError
from torch import nn

from ..engine.rule import PlainRule
from ..engine.schedule import ConstantRho, RhoSchedule
from ..engine.step import SharpnessStep
from ..specs import EngineParams, RuleParams, RuleSpec, SchedulePlan
from .problems import BASES, Problem, problem, smooth_batch, smooth_loss, smooth_model, tiny_batches, tiny_model

Reference = Callable[[Any, Problem, list[torch.Tensor], float, dict[str, Any]], Any]
"""``reference(config, problem, w, rho, state)`` -> the final gradient d (a list, one tensor per parameter of
``w``), or ``(d, post)``: ``post`` is applied after the base step as ``w -= lr * post`` (a decoupled term).
``state`` is a dict kept across steps (e.g. a momentum)."""

LR = 0.05


def _schedule(config: Any) -> RhoSchedule | None:
    if not isinstance(config, RuleParams):
        return None
    if config.rho_schedule_name() == "constant":
        return ConstantRho(float(config.rho))
    from ..build import build_rho_schedule

    return build_rho_schedule(config, SchedulePlan(lr_range=(0.0, LR), total_steps=8))


def _engine(spec: RuleSpec | None, config: Any, seed: int, *, model: nn.Module | None = None,
            optimizer: Callable[[Any], torch.optim.Optimizer] | None = None) -> SharpnessStep:
    """Rule ``spec`` (None: the plain base optimizer) around SGD, on the tiny CNN unless ``model`` is given."""
    model = model if model is not None else tiny_model(seed)
    opt = (optimizer or (lambda p: torch.optim.SGD(p, lr=LR, momentum=0.9, weight_decay=1e-3)))(model.parameters())
    rule = PlainRule(None) if spec is None else spec.factory(config)
    return SharpnessStep(model, opt, rule, config, rho_schedule=_schedule(config))


def _run(engine: SharpnessStep, steps: int, seed: int = 1) -> list[Any]:
    outs = []
    for _ in range(steps):
        torch.manual_seed(1234 + engine.step_count)  # dropout masks depend on the step only
        outs.append(engine.step(tiny_batches(seed + engine.step_count), nn.functional.cross_entropy))
    return outs


def _run_smooth(engine: SharpnessStep, steps: int, seed: int = 0) -> list[Any]:
    return [engine.step([smooth_batch(engine.step_count, seed)], smooth_loss) for _ in range(steps)]


def _weights(engine: SharpnessStep) -> list[torch.Tensor]:
    return [t.detach().clone() for t in engine.model.state_dict().values()]


def _same(a: Sequence[torch.Tensor], b: Sequence[torch.Tensor], atol: float = 0.0) -> bool:
    if atol == 0.0:
        return all(torch.equal(x, y) for x, y in zip(a, b))
    return all(torch.allclose(x.double(), y.double(), rtol=0.0, atol=atol) for x, y in zip(a, b))


def _with(spec: RuleSpec, **values: float) -> Any:
    """The rule's default parameters with ``values`` set where the rule has such fields."""
    fields = spec.params.model_fields
    return spec.params(**{k: v for k, v in values.items() if k in fields})


def _record_final_gradients(engine: SharpnessStep) -> list[list[torch.Tensor]]:
    """Every gradient the engine hands to the base optimizer, as copies, one list per step."""
    seen: list[list[torch.Tensor]] = []
    step = engine.optimizer.step

    def record(*args: Any, **kwargs: Any) -> Any:
        seen.append([p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p) for p in engine.params])
        return step(*args, **kwargs)

    engine.optimizer.step = record  # type: ignore[method-assign]
    return seen


# -- the checks ------------------------------------------------------------------------------------------
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
    engine = _engine(spec, spec.params(), 0)
    before = _weights(engine)
    out = engine.step(tiny_batches(), nn.functional.cross_entropy)
    assert math.isfinite(out.loss), f"{spec.name}: loss {out.loss}"
    assert not out.skipped, f"{spec.name}: the first step was skipped"
    assert out.passes == engine.rule.passes(0), f"{spec.name}: ran {out.passes} passes, passes(0) says {engine.rule.passes(0)}"
    assert all(isinstance(v, float) for v in out.diagnostics.values()), f"{spec.name}: diagnostics must be floats"
    if out.passes > 1:
        cos = out.diagnostics.get("cos_g_gp")
        assert cos is not None and -1.0 - 1e-6 <= cos <= 1.0 + 1e-6, f"{spec.name}: cos(g, g_p) = {cos}"
    assert not _same(before, _weights(engine)), f"{spec.name}: one step left the weights unchanged"


def check_rho_zero(spec: RuleSpec, atol: float = 0.0) -> None:
    """At ``rho = 0`` the final gradient is the base optimizer's gradient, bit for bit (within ``atol``
    when given), at each of three steps, and so are the weights after each step (post-steps included)."""
    if "rho" not in spec.params.model_fields:
        return
    config = _with(spec, rho=0.0, rho_min=0.0)
    rule, base = _engine(spec, config, 0), _engine(None, config, 0)
    got, want = _record_final_gradients(rule), _record_final_gradients(base)
    for s in range(3):
        _run(rule, 1)
        _run(base, 1)
        assert len(got) == len(want) == s + 1, f"{spec.name}: rho = 0 skipped a base step"
        diff = max(float((a.double() - b.double()).abs().max()) for a, b in zip(got[s], want[s]))
        assert _same(got[s], want[s], atol), (
            f"{spec.name}: at rho = 0 the final gradient of step {s + 1} differs from the base optimizer's by up to "
            f"{diff:.3g}; arrange the arithmetic so that equal gradients give exactly g (e.g. g + a(g_p − g), "
            "not (1 − a)g + a g_p; see writing-a-rule.md)")
        assert _same(_weights(rule), _weights(base), atol), (
            f"{spec.name}: at rho = 0 the weights after step {s + 1} differ from the base optimizer's (post_step?)")


def check_ascent(spec: RuleSpec, rho: float = 1e-3) -> None:
    """For a small ``rho`` on a smooth problem, the first perturbed pass of a fresh rule climbs the loss."""
    if "rho" not in spec.params.model_fields:
        return
    config = _with(spec, rho=rho, rho_min=0.0)
    for seed in range(3):
        engine = _engine(spec, config, seed, model=smooth_model(seed))
        out = engine.step([smooth_batch(0, seed)], smooth_loss)
        if out.passes < 2:
            continue
        rise = out.diagnostics.get("sharpness", math.nan)
        assert rise > 0, (
            f"{spec.name}: the first perturbed pass does not climb the loss on a smooth problem (L(w+e) − L(w) = "
            f"{rise:.3g} at rho = {rho}, problem {seed}); the perturbation should follow the gradient (sign?)")


def check_radius(spec: RuleSpec) -> bool:
    """The perturbation's size in the rule's own norm (``rule.radius(ctx, e)``) is rho, at the first two
    perturbed passes (within ten steps, for rules that skip passes). Returns False when the rule declares no
    radius (nothing was checked)."""
    config = _with(spec, rho_min=0.0)
    if getattr(config, "rho", 0.0) == 0.0:
        config = _with(spec, rho=0.1, rho_min=0.0)
    engine = _engine(spec, config, 0, model=smooth_model(0))
    rule = engine.rule
    radius = getattr(rule, "radius", None)
    if not callable(radius):
        return False
    seen: list[tuple[float, float]] = []
    ascent = rule.ascent

    def measured(ctx: Any, k: int) -> None:
        rho = float(ctx.rho)  # the engine's radius, before the rule could touch it
        ascent(ctx, k)
        if k == 1:
            e = [p.detach() - b for p, b in zip(ctx.params, ctx.backup)]
            seen.append((float(radius(ctx, e)), rho))

    rule.ascent = measured  # type: ignore[method-assign]
    while len(seen) < 2 and engine.step_count < 10:
        _run_smooth(engine, 1)
    assert seen, f"{spec.name}: no perturbed pass ran in ten steps"
    for s, (size, rho) in enumerate(seen):
        assert abs(size - rho) <= 1e-6 * rho + 1e-12, (
            f"{spec.name}: the perturbation's size in the rule's norm is {size:.6g}, not rho = {rho:.6g} (step "
            f"{s + 1} with a perturbed pass); check its normalisation and scale")
    return True


def check_effect(spec: RuleSpec) -> None:
    """With rho > 0 the weights after three steps differ from the base optimizer's."""
    if "rho" not in spec.params.model_fields:
        return
    config = spec.params()
    if getattr(config, "rho", 0.0) == 0.0:
        config = _with(spec, rho=0.1)
    a = _engine(spec, config, 0, model=smooth_model(0))
    b = _engine(None, config, 0, model=smooth_model(0))
    _run_smooth(a, 3)
    _run_smooth(b, 3)
    assert not _same(_weights(a), _weights(b)), (
        f"{spec.name}: with rho = {config.rho} the weights after 3 steps equal the base optimizer's: the update "
        "ignores the perturbed passes (does combine return the gradient at w?)")


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


def check_reference(spec: RuleSpec, reference: Reference, config: Any = None, steps: int = 3) -> None:
    """The engine's weights after ``steps`` steps on the smooth float64 problem, under SGD (momentum 0.9,
    weight decay 0.01) and Adam, equal the float64 ``reference`` to 1e-9 (see :data:`Reference`)."""
    config = config if config is not None else spec.params()
    for base, (make_opt, make_ref) in BASES.items():
        model = smooth_model(0)
        start = [p.detach().clone() for p in model.parameters()]
        engine = _engine(spec, config, 0, model=model, optimizer=make_opt)
        rhos = [float(out.diagnostics["rho"]) for out in _run_smooth(engine, steps)]
        opt, w, state = make_ref(), start, {}
        for s in range(steps):
            x, target = smooth_batch(s)
            result = reference(config, problem(smooth_model(0), x, target), w, rhos[s], state)
            d, post = result if isinstance(result, tuple) else (result, None)
            w = opt.step(w, list(d))
            if post is not None:
                w = [wi - opt.lr * pi for wi, pi in zip(w, post)]
        for i, (got, want) in enumerate(zip(engine.model.parameters(), w)):
            err = float((got.detach() - want).abs().max())
            assert torch.allclose(got.detach(), want, rtol=1e-9, atol=1e-12), (
                f"{spec.name}: after {steps} {base} steps parameter {engine.param_info[i].name} differs from the "
                f"float64 reference by up to {err:.3g}")


def check_rule_spec(spec: RuleSpec, *, rho0_atol: float = 0.0, reference: Reference | None = None,
                    reference_config: Any = None) -> list[str]:
    """Every check above; returns the names of the checks that ran. ``rho0_atol`` > 0 accepts a rule whose
    ``rho = 0`` step is only close; ``reference``: an author's float64 step (:data:`Reference`), run with
    ``reference_config`` (default: the rule's defaults)."""
    assert isinstance(spec, RuleSpec), f"expected a RuleSpec, got {type(spec).__name__}"
    ran = ["params", "one_step", "rho_zero", "ascent"]
    check_params(spec)
    check_one_step(spec)
    check_rho_zero(spec, rho0_atol)
    check_ascent(spec)
    if "rho" in spec.params.model_fields:
        if check_radius(spec):
            ran.append("radius")
        else:
            warnings.warn(f"{spec.name}: the rule declares no radius(ctx, e), so the kit cannot check that its "
                          "perturbation has size rho (see writing-a-rule.md)", stacklevel=2)
        check_effect(spec)
        ran.append("effect")
    check_state_roundtrip(spec)
    check_determinism(spec)
    ran += ["resume", "determinism"]
    if reference is not None:
        check_reference(spec, reference, reference_config)
        ran.append("reference")
    return ran
