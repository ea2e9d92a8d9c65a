"""JSON Schema of recipes, including the installed plugins.

Each plugin table is ``{"name": {"enum": [...]}}`` plus one ``if name == X then <X's params>`` per
plugin, which editors (Even Better TOML / Taplo) report precisely, unlike ``oneOf`` unions.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, create_model
from pydantic.json_schema import models_json_schema

from ..registry import Registry
from ..kinds import recipe_kinds
from .validate import CORE_TABLES, SCHEMA_VERSION


def _with_name(kind: str, name: str, params: type[BaseModel]) -> type[BaseModel]:
    model_name = f"{kind}_{name}".replace("-", "_")
    return create_model(  # type: ignore[call-overload]
        model_name, __base__=params, name=(Literal[name], Field(description=f"selects the {kind} {name!r}"))
    )


def recipe_schema(registry: Registry) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a recipe file for the plugins in ``registry``."""
    plugin_models: dict[tuple[str, str], type[BaseModel]] = {}
    for kind in recipe_kinds():
        for provided in registry.all(kind.name):
            key = (str(kind.table), provided.spec.name)
            if key not in plugin_models:
                plugin_models[key] = _with_name(kind.name, provided.spec.name, provided.spec.params)
    models = [(m, "validation") for m in [*CORE_TABLES.values(), *plugin_models.values()]]
    refs, top = models_json_schema(models, ref_template="#/$defs/{model}")
    properties: dict[str, Any] = {
        "$schema": {"type": "string"},
        "schema_version": {"const": SCHEMA_VERSION, "description": "Recipe format version."},
        "requires": {"type": "array", "items": {"type": "string"}, "description": "PEP 508 requirements checked before anything runs."},
        "extends": {"type": "string", "description": "Path of a base recipe (relative to this file)."},
    }
    for table, model in CORE_TABLES.items():
        properties[table] = refs[(model, "validation")]
    for kind in recipe_kinds():
        table = str(kind.table)
        names = sorted(n for (t, n) in plugin_models if t == table)
        branches = [
            {"if": {"properties": {"name": {"const": n}}, "required": ["name"]}, "then": refs[(plugin_models[(table, n)], "validation")]}
            for n in names
        ]
        properties[table] = {
            "type": "object",
            "description": f"The {kind.name} plugin (`name`) and its parameters.",
            "properties": {"name": {"enum": names, "description": f"Installed {kind.plural}."}},
            "required": ["name"],
            "allOf": branches,
        }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://sharpreg.invalid/recipe.schema.json",
        "title": "sharpreg recipe",
        "type": "object",
        "properties": properties,
        "required": ["schema_version", *(k.table for k in recipe_kinds() if k.required)],
        "additionalProperties": False,
        "$defs": top.get("$defs", {}),
    }
