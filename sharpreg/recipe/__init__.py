"""The recipe language: TOML data that names registered plugins and sets their parameters."""

from __future__ import annotations

import os
from collections.abc import Sequence

from ..registry import Registry, default_registry
from .core import EvalConfig, MetaConfig, TrainConfig
from .loader import RawRecipe, apply_overrides, load_raw, parse_override
from .tables import Selected
from .validate import Recipe, validate


def load_recipe(
    path: str | os.PathLike[str],
    overrides: Sequence[str] = (),
    registry: Registry | None = None,
) -> Recipe:
    """Read, merge (``extends``), override (``--set``) and validate a recipe (a file, or an installed
    recipe's ``NAME`` / ``DIST:NAME``)."""
    registry = registry or default_registry()
    raw = apply_overrides(load_raw(path, registry=registry), list(overrides))
    return validate(raw, registry, list(overrides))


__all__ = [
    "EvalConfig",
    "MetaConfig",
    "RawRecipe",
    "Recipe",
    "Selected",
    "TrainConfig",
    "load_raw",
    "load_recipe",
    "parse_override",
    "validate",
]
