"""The multi-pass sharpness step engine."""

from .rule import SharpnessRule, StepContext
from .step import SharpnessStep, StepOutput

__all__ = ["SharpnessRule", "SharpnessStep", "StepContext", "StepOutput"]
