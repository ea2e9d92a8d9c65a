"""Validation of the tables that select plugins: the plugin ``name`` against the registry (stage one), then
the table against that plugin's ``Params`` (stage two). Problems are collected, never raised one by one."""

from __future__ import annotations

import difflib
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from ..errors import PluginError, RecipeIssue
from ..kinds import PluginKind, kind_of
from ..registry import Provided, Registry
from ..specs import PluginParams, PluginSpec, RuleParams
from .loader import KeyPath, RawRecipe


@dataclass(frozen=True)
class Selected:
    """A plugin chosen by a recipe table, with its validated parameters."""

    table: str
    """where it was chosen: ``sharpness``, ``metrics.0``, ``sharpness.rho_schedule``"""
    name: str
    """the plugin's name (without a distribution)"""
    provided: Provided
    params: PluginParams
    written: str = ""
    """the name as the recipe wrote it (``name`` or ``dist:name``)"""

    @property
    def spec(self) -> PluginSpec:
        return self.provided.spec

    def as_table(self) -> dict[str, Any]:
        """``{"name": ..., **parameters}`` with every default filled in."""
        return {"name": self.written or self.name, **self.params.model_dump(mode="json")}


def pydantic_issues(raw: RawRecipe, prefix: KeyPath, exc: ValidationError, model: type[BaseModel]) -> list[RecipeIssue]:
    issues = []
    for err in exc.errors(include_url=False):
        loc = prefix + tuple(str(x) for x in err["loc"])
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            known = _known_keys(model, err["loc"][:-1])
            near = difflib.get_close_matches(str(err["loc"][-1]), known, n=2, cutoff=0.6)
            if near:
                msg = f"unknown key; did you mean {' or '.join(repr(n) for n in near)}? Known keys: {', '.join(known)}."
            else:
                msg = "unknown key" + (f"; known keys: {', '.join(known)}." if known else "")
        elif err["type"] == "missing":
            msg = "required key is missing"
        issues.append(raw.issue(loc, msg))
    return issues


def _known_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names of ``model`` or of the nested model at ``loc``."""
    current: Any = model
    for part in loc:
        fields = getattr(current, "model_fields", {})
        if part not in fields:
            return []
        current = _model_in(fields[part].annotation)
        if current is None:
            return []
    extra = ["name"] if issubclass(model, PluginParams) and not loc else []
    return sorted(list(getattr(current, "model_fields", {})) + extra)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found:
            return found
    return None


def _is_path_field(annotation: Any) -> bool:
    if annotation is Path:
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_is_path_field(a) for a in typing.get_args(annotation))
    return False


def resolve_paths(raw: RawRecipe, prefix: KeyPath, table: dict[str, Any], model: type[BaseModel]) -> dict[str, Any]:
    """Relative paths in ``Path`` fields resolve against the folder of the file that set them."""
    out = dict(table)
    for key, f in model.model_fields.items():
        value = out.get(key)
        if isinstance(value, str) and value and _is_path_field(f.annotation):
            p = Path(value).expanduser()
            if not p.is_absolute():
                origin = raw.origin(prefix + (key,))
                base = origin.base_dir if origin else Path.cwd()
                out[key] = str((base / p).resolve())
        elif isinstance(value, dict):
            sub = _model_in(f.annotation)
            if sub is not None:
                out[key] = resolve_paths(raw, prefix + (key,), value, sub)
    return out


def select(raw: RawRecipe, kind: PluginKind, registry: Registry, where: KeyPath, value: dict[str, Any],
           issues: list[RecipeIssue]) -> Selected | None:
    """The plugin of ``kind`` that the table ``value`` (found at ``where``) names, with its parameters."""
    installed = ", ".join(registry.names(kind.name)) or "(none installed)"
    name = value.get("name")
    if not isinstance(name, str) or not name:
        issues.append(raw.issue(where + ("name",), f"missing; set name = one of: {installed}"))
        return None
    try:
        provided = registry.get(kind.name, name)
    except PluginError as exc:
        issues.append(raw.issue(where + ("name",), str(exc)))
        return None
    model = provided.spec.params
    body = resolve_paths(raw, where, {k: v for k, v in value.items() if k != "name"}, model)
    try:
        return Selected(".".join(where), provided.spec.name, provided, model.model_validate(body), written=name)
    except ValidationError as exc:
        issues.extend(pydantic_issues(raw, where, exc, model))
        return None


def plugin_table(raw: RawRecipe, kind: PluginKind, registry: Registry, issues: list[RecipeIssue]) -> Selected | None:
    """The one plugin a table such as ``[sharpness]`` selects (the kind's default when the table is absent)."""
    table = str(kind.table)
    value = raw.data.get(table)
    if value is None:
        if kind.required or kind.default is None:
            installed = ", ".join(registry.names(kind.name)) or "(none installed)"
            issues.append(raw.issue((table,), f"missing table [{table}]; add it with name = one of: {installed}"))
            return None
        value = {"name": kind.default}
    if not isinstance(value, dict):
        issues.append(raw.issue((table,), f"must be a table ([{table}])"))
        return None
    return select(raw, kind, registry, (table,), value, issues)


def plugin_list(raw: RawRecipe, kind: PluginKind, registry: Registry, issues: list[RecipeIssue]) -> tuple[Selected, ...]:
    """The plugins an array of tables such as ``[[metrics]]`` selects, each at most once."""
    table = str(kind.table)
    value = raw.data.get(table, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        issues.append(raw.issue((table,), f"must be an array of tables: [[{table}]] with name = ... (once per "
                                          f"{kind.name})"))
        return ()
    out: list[Selected] = []
    for i, entry in enumerate(value):
        sel = select(raw, kind, registry, (table, str(i)), entry, issues)
        if sel is None:
            continue
        if any(s.spec.name == sel.spec.name for s in out):
            issues.append(raw.issue((table, str(i), "name"), f"{kind.name} {sel.name!r} is listed twice; list it once"))
            continue
        out.append(sel)
    return tuple(out)


def rho_schedule(raw: RawRecipe, sharpness: Selected | None, registry: Registry,
                 issues: list[RecipeIssue]) -> Selected | None:
    """The schedule plugin ``sharpness.rho_schedule`` names, with its parameters (None for a rule
    without a radius)."""
    if sharpness is None or not isinstance(sharpness.params, RuleParams):
        return None
    config = sharpness.params
    value = {"name": config.rho_schedule_name(), **config.rho_schedule_config()}
    return select(raw, kind_of("schedule"), registry, ("sharpness", "rho_schedule"), value, issues)
