"""JSON Schema of recipes, including the installed plugins.

Each plugin table's ``name`` accepts exactly the spellings ``check`` accepts: a bare name that one
distribution provides, and ``DIST:NAME`` for any provider (its distribution or plugin name, compared
without regard to case or to ``-``/``_``/``.``). Then one ``if name is X then <X's params>`` per provider,
which editors (Even Better TOML / Taplo) report precisely, unlike ``oneOf`` unions. A recipe that
``extends`` another needs no table (the merged recipe is what ``check`` validates). Arrays of tables
(``[[metrics]]``) hold such objects; ``sharpness.rho_schedule`` names an installed schedule and
``train.monitor`` a built-in or an installed plugin metric.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, Field, create_model
from pydantic.json_schema import models_json_schema

from ..kinds import PluginKind, list_kinds, recipe_kinds
from ..metrics.table import monitor_choices
from ..registry import REFERENCE, Provided, Registry, _norm
from .validate import CORE_TABLES, SCHEMA_VERSION


def _with_name(kind: str, name: str, params: type[BaseModel]) -> type[BaseModel]:
    model_name = f"{kind}_{name}".replace("-", "_")
    return create_model(  # type: ignore[call-overload]
        model_name, __base__=params, name=(str, Field(description=f"selects the {kind} (its spellings: the table's name)"))
    )


def _loose(prefix: str) -> str:
    """A regular expression (ECMA and Python alike) for the spellings of ``prefix`` that compare equal to it."""
    return "".join("[-_.]" if c == "-" else f"[{c}{c.upper()}]" if c.isalpha() else re.escape(c) for c in _norm(prefix))


def name_pattern(provided: Provided, unique: bool) -> str:
    """How a recipe may name this provider's plugin: ``DIST:NAME`` (and ``NAME`` when no other provides it)."""
    prefixes = sorted({_loose(x) for x in (provided.plugin.dist, provided.plugin.name)
                       if x and REFERENCE.fullmatch(f"{x}:a") and _norm(x)[0] != "-"})
    forms = [f"(?:{'|'.join(prefixes)}):{re.escape(provided.spec.name)}"] if prefixes else []
    if unique:
        forms.append(re.escape(provided.spec.name))
    return "^(?:" + "|".join(forms) + ")$"


def _plugin_table(kind_name: str, plural: str, providers: list[tuple[Provided, bool, dict[str, Any]]]) -> dict[str, Any]:
    """A plugin table: which names it accepts, then each provider's parameters."""
    unique = sorted({p.spec.name for p, alone, _ in providers if alone})
    patterns = [name_pattern(p, alone) for p, alone, _ in providers]
    return {
        "type": "object",
        "description": f"The {kind_name} plugin (`name`) and its parameters.",
        "properties": {"name": {"type": "string", "anyOf": [{"enum": unique}, *({"pattern": pat} for pat in patterns)],
                                "description": f"Installed {plural} (NAME, or DIST:NAME where two distributions provide it)."}},
        **({"allOf": [{"if": {"properties": {"name": {"pattern": pat}}, "required": ["name"]}, "then": ref}
                      for pat, (_, _, ref) in zip(patterns, providers)]} if providers else {}),  # no empty allOf
    }


def _restrict(defs: dict[str, Any], key: str, allowed: dict[str, Any]) -> None:
    """Every property ``key`` of the definitions gets ``allowed`` (an enum) in place of its free type."""
    for sub in defs.values():
        prop = sub.get("properties", {}).get(key)
        if prop is not None:
            for free in ("type", "anyOf", "json_schema_extra"):
                prop.pop(free, None)
            prop.update(allowed)


def _providers(kind: PluginKind, registry: Registry, refs: dict[Any, Any],
               plugin_models: dict[tuple[str, str, int], type[BaseModel]]) -> list[tuple[Provided, bool, dict[str, Any]]]:
    """Each provider of ``kind``: whether it alone provides its name, and the reference to its parameters."""
    table = str(kind.table)
    return [(p, len(registry.providers(kind.name, p.spec.name)) == 1, refs[(plugin_models[(table, p.spec.name, i)], "validation")])
            for i, p in enumerate(registry.all(kind.name))]


def recipe_schema(registry: Registry) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a recipe file for the plugins in ``registry``."""
    plugin_models: dict[tuple[str, str, int], type[BaseModel]] = {}
    for kind in [*recipe_kinds(), *list_kinds()]:
        for i, provided in enumerate(registry.all(kind.name)):
            alone = len(registry.providers(kind.name, provided.spec.name)) == 1
            model_name = provided.spec.name if alone else f"{provided.spec.name}_{i}"
            plugin_models[(str(kind.table), provided.spec.name, i)] = _with_name(kind.name, model_name, provided.spec.params)
    models = [(m, "validation") for m in [*CORE_TABLES.values(), *plugin_models.values()]]
    refs, top = models_json_schema(models, ref_template="#/$defs/{model}")
    properties: dict[str, Any] = {
        "$schema": {"type": "string"},
        "schema_version": {"const": SCHEMA_VERSION, "description": "Recipe format version."},
        "requires": {"type": "array", "items": {"type": "string"}, "description": "PEP 508 requirements checked before anything runs."},
        "extends": {"type": "string", "description": "A base recipe: a path relative to this file, or an installed "
                                                   "recipe's NAME or DIST:NAME."},
    }
    for table, model in CORE_TABLES.items():
        properties[table] = refs[(model, "validation")]
    for kind in recipe_kinds():
        properties[str(kind.table)] = _plugin_table(kind.name, kind.plural, _providers(kind, registry, refs, plugin_models))
    for kind in list_kinds():
        items = _plugin_table(kind.name, kind.plural, _providers(kind, registry, refs, plugin_models))
        properties[str(kind.table)] = {"type": "array", "description": f"{kind.plural.capitalize()} to use, each once.",
                                       "items": {**items, "required": ["name"]}}
    required = ["schema_version", *(str(k.table) for k in recipe_kinds() if k.required)]
    named = {str(k.table): {"required": ["name"]} for k in recipe_kinds()}
    defs = top.get("$defs", {})
    schedules = registry.names("schedule")
    _restrict(defs, "rho_schedule", {"anyOf": [
        {"enum": schedules},
        {"type": "object", "properties": {"name": {"enum": schedules}}, "required": ["name"]}]})
    _restrict({"train": defs.get("TrainConfig", {})}, "monitor", {"enum": monitor_choices() + registry.names("metric")})
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://sharpreg.invalid/recipe.schema.json",
        "title": "sharpreg recipe",
        "type": "object",
        "properties": properties,
        "if": {"required": ["extends"]},
        "else": {"required": required, "properties": named},
        "additionalProperties": False,
        "$defs": defs,
    }
