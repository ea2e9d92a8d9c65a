"""sharpreg: sharpness-aware optimizers for medical image classification, as plugins."""

from .engine.adapters import perturbed
from .hookspecs import hookimpl
from .specs import (
    DataParams,
    DatasetSpec,
    EngineParams,
    ModelInputs,
    ModelParams,
    ModelSpec,
    OptimizerParams,
    OptimizerSpec,
    PluginParams,
    RecipeSpec,
    RuleParams,
    RuleSpec,
)

__version__ = "0.1.0"

__all__ = [
    "DataParams",
    "DatasetSpec",
    "EngineParams",
    "ModelInputs",
    "ModelParams",
    "ModelSpec",
    "OptimizerParams",
    "OptimizerSpec",
    "PluginParams",
    "RecipeSpec",
    "RuleParams",
    "RuleSpec",
    "__version__",
    "hookimpl",
    "perturbed",
]
