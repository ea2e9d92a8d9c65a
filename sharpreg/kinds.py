"""The one table of plugin kinds: the hook, the spec class, the recipe table and the CLI names of each.

The registry, recipe validation, the JSON Schema and ``sharpreg list`` / ``describe`` derive from it.
Adding a kind is one :class:`PluginKind` entry, its spec class (``specs.py``) and its hook
(``hookspecs.py``); a kind chosen by a recipe table also gets a field on :class:`sharpreg.recipe.Recipe`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import hookspecs
from .specs import (CallbackSpec, CommandSpec, DatasetSpec, LossSpec, MetricSpec, ModelSpec, OptimizerSpec, PluginSpec,
                    RecipeSpec, RuleSpec, ScheduleSpec)


@dataclass(frozen=True)
class PluginKind:
    name: str
    """singular, as in ``sharpreg describe rule sam`` and in error messages"""
    plural: str
    """as in ``sharpreg list rules``"""
    spec: type[PluginSpec] | type[RecipeSpec]
    hook: Callable[[], Any]
    """the hook specification (in ``hookspecs``) whose implementations return specs of this kind"""
    table: str | None
    """the recipe table that selects a plugin of this kind by ``name`` (None: not chosen by a recipe)"""
    required: bool = True
    """a recipe must have the table"""
    default: str | None = None
    """the plugin used when an optional table is absent"""
    many: bool = False
    """the recipe table is an array of tables (``[[metrics]]``): any number of plugins, each once"""
    chosen_by: str = ""
    """for a kind without a table of its own: the recipe key that names one (shown by ``describe``)"""

    @property
    def hook_name(self) -> str:
        return self.hook.__name__

    @property
    def aliases(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(a for a in (self.name, self.plural, self.table) if a))


#: in recipe order
KINDS: tuple[PluginKind, ...] = (
    PluginKind("dataset", "datasets", DatasetSpec, hookspecs.sharpreg_datasets, table="data"),
    PluginKind("model", "models", ModelSpec, hookspecs.sharpreg_models, table="model"),
    PluginKind("optimizer", "optimizers", OptimizerSpec, hookspecs.sharpreg_optimizers, table="optimizer"),
    PluginKind("rule", "rules", RuleSpec, hookspecs.sharpreg_sharpness_rules, table="sharpness", required=False,
               default="none"),
    PluginKind("loss", "losses", LossSpec, hookspecs.sharpreg_losses, table="loss", required=False,
               default="cross_entropy"),
    PluginKind("metric", "metrics", MetricSpec, hookspecs.sharpreg_metrics, table="metrics", required=False,
               many=True),
    PluginKind("callback", "callbacks", CallbackSpec, hookspecs.sharpreg_callbacks, table="callbacks",
               required=False, many=True),
    PluginKind("schedule", "schedules", ScheduleSpec, hookspecs.sharpreg_rho_schedules, table=None,
               chosen_by="sharpness.rho_schedule"),
    PluginKind("command", "commands", CommandSpec, hookspecs.sharpreg_commands, table=None,
               chosen_by="the command line: sharpreg NAME"),
    PluginKind("recipe", "recipes", RecipeSpec, hookspecs.sharpreg_recipes, table=None,
               chosen_by='sharpreg run NAME, extends = "DIST:NAME"'),
)


def kind_of(alias: str) -> PluginKind:
    """The kind called ``alias`` (its name, plural or recipe table)."""
    for k in KINDS:
        if alias in k.aliases:
            return k
    raise KeyError(alias)


def recipe_kinds() -> list[PluginKind]:
    """The kinds chosen by recipe tables, in recipe order (one plugin per table)."""
    return [k for k in KINDS if k.table is not None and not k.many]


def list_kinds() -> list[PluginKind]:
    """The kinds a recipe lists any number of, as arrays of tables (``[[metrics]]``)."""
    return [k for k in KINDS if k.table is not None and k.many]


def parameterized_kinds() -> list[PluginKind]:
    """The kinds whose specs have parameters (``sharpreg describe``)."""
    return [k for k in KINDS if issubclass(k.spec, PluginSpec)]
