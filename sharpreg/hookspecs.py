"""The hooks a sharpreg plugin implements. Each returns a list (or any iterable) of spec objects.

A plugin module is named by an entry point in the group ``sharpreg``::

    [project.entry-points.sharpreg]
    fisher_sam = "sharpreg_fisher_sam"

and implements any of the hooks below with ``@sharpreg.hookimpl``. Each hook belongs to one plugin
kind of ``sharpreg.kinds.KINDS``.
"""

from __future__ import annotations

from collections.abc import Iterable

import pluggy

from .specs import (CallbackSpec, CommandSpec, DatasetSpec, LossSpec, MetricSpec, ModelSpec, OptimizerSpec,
                    RecipeSpec, RuleSpec, ScheduleSpec)

PROJECT = "sharpreg"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def sharpreg_sharpness_rules() -> Iterable[RuleSpec]:
    """Sharpness rules this plugin provides.

    Example::

        @hookimpl
        def sharpreg_sharpness_rules():
            return [RuleSpec(name="fisher_sam", params=FisherParams, factory=FisherSAM,
                             summary="Fisher SAM", citation="Kim et al., ICML 2022")]
    """


@hookspec
def sharpreg_optimizers() -> Iterable[OptimizerSpec]:
    """Base optimizers this plugin provides (the optimizer a sharpness rule wraps).

    Example::

        @hookimpl
        def sharpreg_optimizers():
            return [OptimizerSpec(name="lion", params=LionParams,
                                  factory=lambda groups, p: Lion(groups, lr=p.lr), summary="Lion")]
    """


@hookspec
def sharpreg_models() -> Iterable[ModelSpec]:
    """Networks this plugin provides; ``factory(params, inputs)`` returns an ``nn.Module``.

    Example::

        @hookimpl
        def sharpreg_models():
            return [ModelSpec(name="tiny_cnn", params=TinyParams, factory=build_tiny, summary="tiny CNN")]
    """


@hookspec
def sharpreg_datasets() -> Iterable[DatasetSpec]:
    """Data sets this plugin provides; ``factory(params, context)`` returns a ``DataModule``.

    Example::

        @hookimpl
        def sharpreg_datasets():
            return [DatasetSpec(name="busbra", params=BusBraParams, factory=BusBra, summary="BUS-BRA")]
    """


@hookspec
def sharpreg_recipes() -> Iterable[RecipeSpec]:
    """Recipes this plugin ships (a recipe pack); ``resource`` is the TOML file, installed as package data.

    Example::

        @hookimpl
        def sharpreg_recipes():
            here = importlib.resources.files("sharpreg_fisher_sam") / "recipes"
            return [RecipeSpec(name="fisher_busi", resource=here / "fisher_busi.toml",
                               summary="Fisher SAM on BUSI, benign vs malignant")]
    """


@hookspec
def sharpreg_losses() -> Iterable[LossSpec]:
    """Training losses this plugin provides; a recipe picks one in ``[loss]``.

    Example::

        @hookimpl
        def sharpreg_losses():
            return [LossSpec(name="poly1", params=Poly1Params, factory=Poly1Loss, summary="Poly-1 loss")]
    """


@hookspec
def sharpreg_metrics() -> Iterable[MetricSpec]:
    """Metrics this plugin adds to the metric table; a recipe reports them with ``[[metrics]]``.

    Example::

        @hookimpl
        def sharpreg_metrics():
            return [MetricSpec(name="auprc", params=MetricParams, factory=lambda config: auprc,
                               summary="area under the precision-recall curve", task="binary")]
    """


@hookspec
def sharpreg_callbacks() -> Iterable[CallbackSpec]:
    """Callbacks (trackers, notifiers) this plugin provides; a recipe uses them with ``[[callbacks]]``.

    Example::

        @hookimpl
        def sharpreg_callbacks():
            return [CallbackSpec(name="wandb", params=WandbParams, factory=WandbCallback, summary="W&B")]
    """


@hookspec
def sharpreg_rho_schedules() -> Iterable[ScheduleSpec]:
    """Radius schedules this plugin provides; a recipe picks one with ``sharpness.rho_schedule``.

    Example::

        @hookimpl
        def sharpreg_rho_schedules():
            return [ScheduleSpec(name="warmup", params=WarmupParams, factory=Warmup, summary="rho ramps up")]
    """


@hookspec
def sharpreg_commands() -> Iterable[CommandSpec]:
    """``sharpreg NAME`` commands this plugin provides (sharpreg's own commands take precedence).

    Example::

        @hookimpl
        def sharpreg_commands():
            return [CommandSpec(name="fisher-report", params=CommandParams, factory=add_report_command,
                                summary="Fisher information of a trained run")]
    """
