"""Two-stage validation: the plugin ``name`` of each table against the registry, then the table
against that plugin's ``Params``. Every problem is collected into one ``RecipeError``."""

from __future__ import annotations

import difflib
import importlib.metadata as md
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from pydantic import BaseModel, ValidationError

from ..errors import PluginError, RecipeError, RecipeIssue
from ..kinds import PluginKind, recipe_kinds
from ..registry import Provided, Registry
from ..specs import PluginParams, PluginSpec
from .core import EvalConfig, LockConfig, MetaConfig, TrainConfig
from .loader import KeyPath, RawRecipe

CORE_TABLES: dict[str, type[BaseModel]] = {"meta": MetaConfig, "train": TrainConfig, "eval": EvalConfig,
                                           "lock": LockConfig}
OPTIONAL_TABLES = ("lock",)
"""core tables that are absent (None) unless the recipe has them"""
TOP_KEYS = ("schema_version", "requires", *CORE_TABLES, *(str(k.table) for k in recipe_kinds()))
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Selected:
    """A plugin chosen by a recipe table, with its validated parameters."""

    table: str
    name: str
    """the plugin's name (without a distribution)"""
    provided: Provided
    params: PluginParams
    written: str = ""
    """the name as the recipe wrote it (``name`` or ``dist:name``)"""

    @property
    def spec(self) -> PluginSpec:
        return self.provided.spec


@dataclass(frozen=True)
class Recipe:
    """A validated recipe: core tables as models, plugin tables as :class:`Selected`."""

    raw: RawRecipe
    meta: MetaConfig
    data: Selected
    model: Selected
    optimizer: Selected
    sharpness: Selected
    train: TrainConfig
    eval: EvalConfig
    lock: LockConfig | None = None
    requires: list[str] = field(default_factory=list)
    overrides: list[str] = field(default_factory=list)

    @property
    def path(self) -> Path | None:
        return self.raw.files[0] if self.raw.files else None

    @property
    def name(self) -> str:
        return self.meta.name or (self.path.stem if self.path else "recipe")

    def selected(self) -> list[Selected]:
        """The plugin tables, in recipe order."""
        return [getattr(self, str(k.table)) for k in recipe_kinds()]

    def resolved(self) -> dict[str, Any]:
        """The whole recipe with every default filled in (TOML-ready: no None values)."""
        out: dict[str, Any] = {"schema_version": SCHEMA_VERSION}
        if self.requires:
            out["requires"] = list(self.requires)
        out["meta"] = self.meta.model_dump(mode="json") | {"name": self.name}
        for sel in self.selected():
            out[sel.table] = {"name": sel.written or sel.name, **sel.params.model_dump(mode="json")}
        out["train"] = self.train.model_dump(mode="json")
        out["eval"] = self.eval.model_dump(mode="json")
        if self.lock is not None:
            out["lock"] = self.lock.model_dump(mode="json")
        return _drop_none(out)

    def pinned(self) -> dict[str, Any]:
        """:meth:`resolved`, with every plugin named ``dist:name`` and ``requires`` naming each distribution that
        provided one (at least the version installed): what a clashing plugin elsewhere cannot change."""
        out = self.resolved()
        for sel in self.selected():
            out[sel.table]["name"] = sel.provided.ref
        out.pop("requires", None)
        ran = {sel.provided.plugin.dist: sel.provided.plugin.version for sel in self.selected()}
        requires = pinned_requires(self.requires, {d: v for d, v in ran.items() if d and v})
        return {"schema_version": out.pop("schema_version"), **({"requires": requires} if requires else {}), **out}

    def provenance(self) -> list[dict[str, Any]]:
        return [sel.provided.provenance() | {"table": sel.table} for sel in self.selected()]


def pinned_requires(requires: list[str], versions: dict[str, str]) -> list[str]:
    """``dist>=version`` for every distribution of ``versions`` (the ones that provided plugins), then the other
    requirements of ``requires``."""
    pins = {canonicalize_name(d): f"{canonicalize_name(d)}>={v}" for d, v in versions.items()}
    rest = [r for r in requires if canonicalize_name(Requirement(r).name) not in pins]
    return [*pins.values(), *rest]


def local_paths(params: BaseModel, prefix: KeyPath = ()) -> list[KeyPath]:
    """The keys of ``params`` (nested tables too) that hold a path: they name files of this machine."""
    out: list[KeyPath] = []
    for key in type(params).model_fields:
        value = getattr(params, key)
        if isinstance(value, Path):
            out.append((*prefix, key))
        elif isinstance(value, BaseModel):
            out += local_paths(value, (*prefix, key))
    return out


def _issue_order(issue: RecipeIssue) -> tuple[bool, str, int]:
    """Files in order of lines; --set problems last, in the order given."""
    from_set = issue.file.startswith("--set")
    return (from_set, "" if from_set else issue.file, issue.line or 0)


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def _pydantic_issues(raw: RawRecipe, prefix: KeyPath, exc: ValidationError, model: type[BaseModel]) -> list[RecipeIssue]:
    issues = []
    for err in exc.errors(include_url=False):
        loc = prefix + tuple(str(x) for x in err["loc"])
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            known = _known_keys(model, err["loc"][:-1])
            near = difflib.get_close_matches(str(err["loc"][-1]), known, n=2, cutoff=0.6)
            msg = "unknown key" + (f"; did you mean {' or '.join(repr(n) for n in near)}?" if near else "")
            msg += f" Known keys: {', '.join(known)}." if known else ""
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


def _resolve_paths(raw: RawRecipe, prefix: KeyPath, table: dict[str, Any], model: type[BaseModel]) -> dict[str, Any]:
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
                out[key] = _resolve_paths(raw, prefix + (key,), value, sub)
    return out


def check_requires(raw: RawRecipe) -> list[RecipeIssue]:
    """Each PEP 508 string in ``requires`` must be installed in a matching version."""
    reqs = raw.data.get("requires", [])
    if not isinstance(reqs, list) or not all(isinstance(r, str) for r in reqs):
        return [raw.issue(("requires",), 'must be a list of requirement strings, e.g. ["sharpreg>=0.1"]')]
    issues = []
    for text in reqs:
        try:
            req = Requirement(text)
        except InvalidRequirement as exc:
            issues.append(raw.issue(("requires",), f"{text!r} is not a valid requirement: {exc}"))
            continue
        if req.marker is not None and not req.marker.evaluate():
            continue
        try:
            have = md.version(req.name)
        except md.PackageNotFoundError:
            issues.append(raw.issue(("requires",), f"needs {text!r}, which is not installed; install it with: pip install '{text}'"))
            continue
        if req.specifier and not req.specifier.contains(have, prereleases=True):
            issues.append(raw.issue(("requires",), f"needs {text!r} but {req.name} {have} is installed; pip install '{text}'"))
    return issues


def _top_level_issues(raw: RawRecipe) -> list[RecipeIssue]:
    issues = []
    for key in raw.data:
        if key not in TOP_KEYS:
            near = difflib.get_close_matches(key, TOP_KEYS, n=1, cutoff=0.6)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            issues.append(raw.issue((key,), f"unknown top-level key or table{hint} Allowed: {', '.join(TOP_KEYS)}."))
    version = raw.data.get("schema_version")
    if version is None:
        issues.append(raw.issue(("schema_version",), "missing; put `schema_version = 1` at the top of the recipe"))
    elif version != SCHEMA_VERSION or isinstance(version, bool):
        issues.append(raw.issue(("schema_version",), f"unsupported schema_version {version!r}; this sharpreg reads "
                                                      f"schema_version = {SCHEMA_VERSION}"))
    return issues


def _core_table(raw: RawRecipe, table: str, model: type[BaseModel], issues: list[RecipeIssue]) -> BaseModel | None:
    value = raw.data.get(table, {})
    if not isinstance(value, dict):
        issues.append(raw.issue((table,), f"must be a table ([{table}])"))
        return None
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        issues.extend(_pydantic_issues(raw, (table,), exc, model))
        return None


def _plugin_table(raw: RawRecipe, kind: PluginKind, registry: Registry, issues: list[RecipeIssue]) -> Selected | None:
    """Stage one: the plugin ``name`` against the registry; stage two: the table against its ``Params``."""
    table = str(kind.table)
    value = raw.data.get(table)
    installed = ", ".join(registry.names(kind.name)) or "(none installed)"
    if value is None:
        if kind.required or kind.default is None:
            issues.append(raw.issue((table,), f"missing table [{table}]; add it with name = one of: {installed}"))
            return None
        value = {"name": kind.default}
    if not isinstance(value, dict):
        issues.append(raw.issue((table,), f"must be a table ([{table}])"))
        return None
    name = value.get("name")
    if not isinstance(name, str) or not name:
        issues.append(raw.issue((table, "name"), f"missing; set name = one of: {installed}"))
        return None
    try:
        provided = registry.get(kind.name, name)
    except PluginError as exc:
        issues.append(raw.issue((table, "name"), str(exc)))
        return None
    model = provided.spec.params
    body = _resolve_paths(raw, (table,), {k: v for k, v in value.items() if k != "name"}, model)
    try:
        return Selected(table, provided.spec.name, provided, model.model_validate(body), written=name)
    except ValidationError as exc:
        issues.extend(_pydantic_issues(raw, (table,), exc, model))
        return None


def validate(raw: RawRecipe, registry: Registry, overrides: list[str] | None = None) -> Recipe:
    """Validate ``raw`` against the core models and the registry's plugins; raise ``RecipeError``."""
    issues = _top_level_issues(raw)
    req_issues = check_requires(raw)
    if req_issues:  # a missing distribution would only add noise below
        raise RecipeError(issues + req_issues)
    core = {table: _core_table(raw, table, model, issues) for table, model in CORE_TABLES.items()
            if table not in OPTIONAL_TABLES or table in raw.data}
    chosen = {str(k.table): _plugin_table(raw, k, registry, issues) for k in recipe_kinds()}
    if issues:
        raise RecipeError(sorted(issues, key=_issue_order))
    return Recipe(raw=raw, requires=list(raw.data.get("requires", [])), overrides=list(overrides or []),
                  **core, **chosen)  # type: ignore[arg-type]
