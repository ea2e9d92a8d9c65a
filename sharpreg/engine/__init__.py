"""The multi-pass sharpness step engine."""

from .rule import BaseRule, SharpnessRule, StepContext, sam_ascent
from .step import SharpnessStep, StepOutput

__all__ = ["BaseRule", "SharpnessRule", "SharpnessStep", "StepContext", "StepOutput", "sam_ascent"]
