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

from .specs import DatasetSpec, ModelSpec, OptimizerSpec, RecipeSpec, RuleSpec

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
