"""The multi-pass sharpness step engine."""

from .adapters import PassLoop, SharpnessOptimizer, perturbed
from .rule import BaseRule, PlainRule, SharpnessRule, StepContext, sam_ascent
from .step import SharpnessStep, StepOutput

__all__ = [
    "BaseRule",
    "PlainRule",
    "PassLoop",
    "SharpnessOptimizer",
    "SharpnessRule",
    "SharpnessStep",
    "StepContext",
    "StepOutput",
    "perturbed",
    "sam_ascent",
]
