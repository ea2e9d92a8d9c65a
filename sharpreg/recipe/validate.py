"""Two-stage validation: the plugin ``name`` of each table against the registry, then the table
against that plugin's ``Params``. Every problem is collected into one ``RecipeError``."""

from __future__ import annotations

import difflib
import importlib.metadata as md
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from pydantic import BaseModel, ValidationError

from ..errors import RecipeError, RecipeIssue
from ..kinds import list_kinds, recipe_kinds
from ..metrics.table import names as builtin_metrics
from ..registry import Registry
from .core import EvalConfig, LockConfig, MetaConfig, TrainConfig
from .loader import KeyPath, RawRecipe
from .migrate import migrate
from .tables import Selected, plugin_list, plugin_table, pydantic_issues, rho_schedule

CORE_TABLES: dict[str, type[BaseModel]] = {"meta": MetaConfig, "train": TrainConfig, "eval": EvalConfig,
                                           "lock": LockConfig}
OPTIONAL_TABLES = ("lock",)
"""core tables that are absent (None) unless the recipe has them"""
TOP_KEYS = ("schema_version", "requires", *CORE_TABLES,
            *(str(k.table) for k in recipe_kinds()), *(str(k.table) for k in list_kinds()))
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Recipe:
    """A validated recipe: core tables as models, plugin tables as :class:`Selected`."""

    raw: RawRecipe
    meta: MetaConfig
    data: Selected
    model: Selected
    optimizer: Selected
    sharpness: Selected
    loss: Selected
    train: TrainConfig
    eval: EvalConfig
    lock: LockConfig | None = None
    metrics: tuple[Selected, ...] = ()
    """the plugin metrics reported beside the built-in ones (``[[metrics]]``)"""
    callbacks: tuple[Selected, ...] = ()
    rho_schedule: Selected | None = None
    """the radius schedule ``sharpness.rho_schedule`` names (None for a rule without a radius)"""
    requires: list[str] = field(default_factory=list)
    overrides: list[str] = field(default_factory=list)

    @property
    def path(self) -> Path | None:
        return self.raw.files[0] if self.raw.files else None

    @property
    def name(self) -> str:
        return self.meta.name or (self.path.stem if self.path else "recipe")

    def selected(self) -> list[Selected]:
        """The plugin tables that choose one plugin each, in recipe order."""
        return [getattr(self, str(k.table)) for k in recipe_kinds()]

    def listed(self) -> dict[str, tuple[Selected, ...]]:
        """The arrays of plugin tables (``metrics``, ``callbacks``), in recipe order."""
        return {str(k.table): getattr(self, str(k.table)) for k in list_kinds()}

    def resolved(self) -> dict[str, Any]:
        """The whole recipe with every default filled in (TOML-ready: no None values)."""
        out: dict[str, Any] = {"schema_version": SCHEMA_VERSION}
        if self.requires:
            out["requires"] = list(self.requires)
        out["meta"] = self.meta.model_dump(mode="json") | {"name": self.name}
        for sel in self.selected():
            out[sel.table] = sel.as_table()
        for table, entries in self.listed().items():
            out[table] = [sel.as_table() for sel in entries]
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
        for table, entries in self.listed().items():
            for entry, sel in zip(out[table], entries):
                entry["name"] = sel.provided.ref
        out.pop("requires", None)
        used = [*self.selected(), *(s for entries in self.listed().values() for s in entries)]
        ran = {sel.provided.plugin.dist: sel.provided.plugin.version for sel in used}
        requires = pinned_requires(self.requires, {d: v for d, v in ran.items() if d and v})
        return {"schema_version": out.pop("schema_version"), **({"requires": requires} if requires else {}), **out}

    def provenance(self) -> list[dict[str, Any]]:
        chosen = [*self.selected(), *(s for entries in self.listed().values() for s in entries)]
        if self.rho_schedule is not None:
            chosen.append(self.rho_schedule)
        return [sel.provided.provenance() | {"table": sel.table} for sel in chosen]


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
            hint = f"; did you mean {near[0]!r}? Allowed" if near else "; allowed"
            issues.append(raw.issue((key,), f"unknown top-level key or table{hint}: {', '.join(TOP_KEYS)}."))
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
        issues.extend(pydantic_issues(raw, (table,), exc, model))
        return None


def _monitor_issues(raw: RawRecipe, train: TrainConfig | None, metrics: tuple[Selected, ...]) -> list[RecipeIssue]:
    """``train.monitor`` names a built-in metric or one the recipe reports with ``[[metrics]]``."""
    if train is None:
        return []
    known = builtin_metrics() + [m.spec.name for m in metrics]
    if train.monitor in known:
        return []
    return [raw.issue(("train", "monitor"), f"unknown metric {train.monitor!r}; choose one of: {', '.join(known)} "
                                             "(a plugin metric must also be listed in [[metrics]])")]


def validate(raw: RawRecipe, registry: Registry, overrides: list[str] | None = None) -> Recipe:
    """Validate ``raw`` against the core models and the registry's plugins; raise ``RecipeError``."""
    raw, issues = migrate(raw)
    issues += _top_level_issues(raw)
    req_issues = check_requires(raw)
    if req_issues:  # a missing distribution would only add noise below
        raise RecipeError(issues + req_issues)
    core = {table: _core_table(raw, table, model, issues) for table, model in CORE_TABLES.items()
            if table not in OPTIONAL_TABLES or table in raw.data}
    chosen = {str(k.table): plugin_table(raw, k, registry, issues) for k in recipe_kinds()}
    listed = {str(k.table): plugin_list(raw, k, registry, issues) for k in list_kinds()}
    schedule = rho_schedule(raw, chosen["sharpness"], registry, issues)
    issues += _monitor_issues(raw, core["train"], listed["metrics"])  # type: ignore[arg-type]
    if issues:
        raise RecipeError(sorted(issues, key=_issue_order))
    return Recipe(raw=raw, requires=list(raw.data.get("requires", [])), overrides=list(overrides or []),
                  rho_schedule=schedule, **core, **chosen, **listed)  # type: ignore[arg-type]
