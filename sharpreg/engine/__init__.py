"""The multi-pass sharpness step engine."""

from .adapters import PassLoop, SharpnessOptimizer, perturbed
from .roles import ParamInfo, parameter_roles
from .rule import BaseRule, PlainRule, SharpnessRule, StepContext, l2_radius, sam_ascent
from .schedule import ConstantRho, RhoSchedule
from .step import SharpnessStep, StepOutput

__all__ = [
    "BaseRule",
    "ConstantRho",
    "ParamInfo",
    "PassLoop",
    "PlainRule",
    "RhoSchedule",
    "SharpnessOptimizer",
    "SharpnessRule",
    "SharpnessStep",
    "StepContext",
    "StepOutput",
    "l2_radius",
    "parameter_roles",
    "perturbed",
    "sam_ascent",
]
