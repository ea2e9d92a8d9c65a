"""A worked example of a sharpreg plugin package: two rules (Friendly-SAM; SAM without the normalization layers,
which selects tensors by role), a metric (sensitivity at a fixed specificity), a loss (Poly-1) and a recipe
pack (friendly_busi)."""

from __future__ import annotations

from importlib import resources

from sharpreg import LossSpec, MetricSpec, RecipeSpec, RuleSpec, hookimpl

from . import friendly_sam, poly1, sam_no_norm, sens_at_spec


@hookimpl
def sharpreg_sharpness_rules() -> list[RuleSpec]:
    return [friendly_sam.SPEC, sam_no_norm.SPEC]


@hookimpl
def sharpreg_metrics() -> list[MetricSpec]:
    return [sens_at_spec.SPEC]


@hookimpl
def sharpreg_losses() -> list[LossSpec]:
    return [poly1.SPEC]


@hookimpl
def sharpreg_recipes() -> list[RecipeSpec]:
    """A recipe pack: the package's recipes, installed as package data (``sharpreg run friendly_busi``)."""
    here = resources.files(__name__) / "recipes"
    return [RecipeSpec("friendly_busi", here / "friendly_busi.toml", "Friendly-SAM + Adam on sharpreg's BUSI setting")]
