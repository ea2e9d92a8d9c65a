"""The rule kit catches wrong math: four broken copies of SAM and the (1 − a)g + a g_p form of coupled WSAM
each fail it, by the property that should catch them and by a float64 reference; the correct rules pass."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from pydantic import Field

import sharpreg_plugins.rules as first_party
from sharpreg.engine import StepContext, ops, sam_ascent
from sharpreg.testing import check_reference, check_rule_spec
from sharpreg_plugins.rules.sam import SAM
from sharpreg_plugins.rules.wsam import WSAM

SPECS = {s.name: s for s in first_party.sharpreg_sharpness_rules()}


def sam_reference(config, problem, w, rho, state):
    """SAM in float64: the gradient at w + rho g/‖g‖."""
    g = problem.grad(w)
    n = math.sqrt(sum(float((t * t).sum()) for t in g))
    return problem.grad([wi + rho * gi / (n + config.eps) for wi, gi in zip(w, g)])


class SignFlipped(SAM):
    def ascent(self, ctx: StepContext, k: int) -> None:
        sam_ascent(ctx, sign=-1.0)  # descends instead of climbing
        ctx.grads[0] = None


class Unnormalized(SAM):
    def ascent(self, ctx: StepContext, k: int) -> None:
        g = ctx.ascent_grads()
        ctx.clean_grad_norm()
        ops.write_perturbation(ctx.params, ctx.backup, g, ctx.rho, at_backup=ctx.at_backup)  # e = rho g
        ctx.at_backup = False
        ctx.grads[0] = None


class StepsWithG(SAM):
    def ascent(self, ctx: StepContext, k: int) -> None:
        sam_ascent(ctx)  # keeps g ...

    def combine(self, ctx: StepContext) -> list[torch.Tensor]:
        return ctx.grads[0]  # ... and steps with it instead of g_p


class DoubleRadius(SAM):
    def ascent(self, ctx: StepContext, k: int) -> None:
        g = ctx.ascent_grads()
        scale = 2.0 * ctx.rho / (float(ctx.clean_grad_norm()) + ctx.eps)  # radius 2 rho
        ops.write_perturbation(ctx.params, ctx.backup, g, scale, at_backup=ctx.at_backup)
        ctx.at_backup = False
        ctx.grads[0] = None


MUTANTS = {
    "sign flipped": (SignFlipped, "does not climb the loss"),
    "no normalisation": (Unnormalized, "size in the rule's norm"),
    "steps with g": (StepsWithG, "equal the base optimizer's"),
    "radius 2 rho": (DoubleRadius, "size in the rule's norm"),
}


@pytest.mark.parametrize("mutant", list(MUTANTS))
def test_the_kit_fails_each_broken_sam_by_its_property(mutant):
    factory, message = MUTANTS[mutant]
    with pytest.raises(AssertionError, match=message):
        check_rule_spec(dataclasses.replace(SPECS["sam"], factory=factory))


@pytest.mark.parametrize("mutant", list(MUTANTS))
def test_a_float64_reference_fails_each_broken_sam(mutant):
    factory, _ = MUTANTS[mutant]
    with pytest.raises(AssertionError, match="float64 reference"):
        check_reference(dataclasses.replace(SPECS["sam"], factory=factory), sam_reference)


def test_sam_passes_the_kit_with_its_reference():
    assert check_rule_spec(SPECS["sam"], reference=sam_reference)[-1] == "reference"


class CoupledRounding(WSAM):
    """Coupled WSAM computed as written, (1 − a) g + a g_p, term by term: equal gradients do not give exactly
    g in floating point (a = 9 for gamma = 0.9; 9 g is rounded). As one fused multiply-add the sum happens to
    be exact on a CPU, which a rule cannot count on across devices."""

    def combine(self, ctx: StepContext) -> list[torch.Tensor]:
        g, gp = ctx.grads[0], ctx.grads[1]
        torch._foreach_mul_(gp, self.alpha)
        torch._foreach_mul_(g, 1.0 - self.alpha)
        torch._foreach_add_(g, gp)
        return g


def coupled(factory):
    spec = SPECS["wsam"]

    class Coupled(spec.params):  # type: ignore[misc, valid-type]
        decoupled: bool = Field(False, description="coupled WSAM")

    return dataclasses.replace(spec, params=Coupled, factory=factory)


def test_the_kit_catches_the_coupled_wsam_form_the_docs_warn_against():
    with pytest.raises(AssertionError, match="at rho = 0 the final gradient of step 1 differs"):
        check_rule_spec(coupled(CoupledRounding))


def test_first_party_coupled_wsam_passes_the_kit():
    check_rule_spec(coupled(WSAM))
