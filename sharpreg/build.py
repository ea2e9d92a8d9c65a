"""Turn a validated recipe into objects: data module, network, base optimizer, rule, radius schedule, loss,
plugin metrics and callbacks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from pydantic import ValidationError
from torch import nn

from .data.module import DataContext, DataModule
from .engine import RhoSchedule, SharpnessRule
from .engine.roles import parameter_roles
from .errors import PluginError, SharpregError
from .metrics import Metric
from .metrics.plugins import entries
from .recipe import Recipe
from .registry import Registry, default_registry
from .specs import CallbackContext, EngineParams, LossContext, ModelInputs, OptimizerParams, RuleParams, SchedulePlan

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def build_datamodule(recipe: Recipe, *, seed: int | None = None) -> DataModule:
    base = recipe.path.parent if recipe.path else Path.cwd()
    ctx = DataContext.from_env(seed=recipe.train.seed if seed is None else seed, base_dir=base)
    return recipe.data.spec.factory(recipe.data.params, ctx)


def model_inputs(recipe: Recipe, classes: list[str]) -> ModelInputs:
    """What the model factory is told: channels and image size from the recipe's data, the classes."""
    data = recipe.data.params
    return ModelInputs(in_chans=int(data.channels), num_classes=len(classes), image_size=int(data.image_size))


def build_model(recipe: Recipe, inputs: ModelInputs) -> nn.Module:
    return recipe.model.spec.factory(recipe.model.params, inputs)


def param_groups(model: nn.Module, params: OptimizerParams) -> list[dict]:
    """One group, or two when biases and normalization parameters (by module type, see
    ``sharpreg.engine.roles``) are excluded from weight decay."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    if not params.no_decay_norm_bias or params.weight_decay == 0:
        return [{"params": trainable}]
    roles = parameter_roles(model, trainable)
    decay = [p for p, info in zip(trainable, roles) if info.role not in ("bias", "norm")]
    no_decay = [p for p, info in zip(trainable, roles) if info.role in ("bias", "norm")]
    return [{"params": decay}, {"params": no_decay, "weight_decay": 0.0}]


def build_optimizer(recipe: Recipe, model: nn.Module) -> torch.optim.Optimizer:
    params = recipe.optimizer.params
    return recipe.optimizer.spec.factory(param_groups(model, params), params)


def build_rule(recipe: Recipe) -> SharpnessRule:
    return recipe.sharpness.spec.factory(recipe.sharpness.params)


def _schedule(spec: Any, config: Any, rule_config: RuleParams, plan: SchedulePlan) -> RhoSchedule:
    schedule = spec.factory(config, rule_config, plan)
    if not callable(getattr(schedule, "rho", None)):
        raise PluginError(f"schedule {spec.name!r}: its factory returned {type(schedule).__name__}, which has no "
                          "rho(step, lr) method")
    return schedule


def build_rho_schedule(config: EngineParams, plan: SchedulePlan, registry: Registry | None = None) -> RhoSchedule | None:
    """The schedule ``config.rho_schedule`` names (a plugin of the registry), for a run described by ``plan``
    (None for a rule without a radius):
    ``SharpnessStep(..., rho_schedule=build_rho_schedule(config, SchedulePlan(lr_range=(0.0, 0.1))))``."""
    if not isinstance(config, RuleParams):
        return None
    provided = (registry or default_registry()).get("schedule", config.rho_schedule_name())
    try:
        params = provided.spec.params.model_validate(config.rho_schedule_config())
    except ValidationError as exc:
        raise SharpregError(f"rho_schedule {provided.spec.name!r}: {exc.errors()[0]['msg']}") from None
    return _schedule(provided.spec, params, config, plan)


def recipe_rho_schedule(recipe: Recipe, plan: SchedulePlan) -> RhoSchedule | None:
    """The radius schedule of the recipe's rule (None for a rule without a radius)."""
    sel = recipe.rho_schedule
    if sel is None or not isinstance(recipe.sharpness.params, RuleParams):
        return None
    return _schedule(sel.spec, sel.params, recipe.sharpness.params, plan)


def build_loss(recipe: Recipe, num_classes: int, class_counts: Sequence[int] | None,
               device: torch.device | str = "cpu") -> LossFn:
    """The recipe's ``[loss]`` for ``num_classes`` classes; ``class_counts``: images per class in the training
    split (None when unknown: a model scored on another data set)."""
    sel = recipe.loss
    counts = tuple(int(c) for c in class_counts) if class_counts is not None else None
    fn = sel.spec.factory(sel.params, LossContext(num_classes=num_classes, class_counts=counts))
    if isinstance(fn, nn.Module):
        fn = fn.to(device)
    if not callable(fn):
        raise PluginError(f"loss {sel.name!r}: its factory returned {type(fn).__name__}, not a callable loss")
    return fn


def build_metrics(recipe: Recipe) -> tuple[Metric, ...]:
    """The plugin metrics the recipe lists, as entries of the metric table."""
    return entries((sel.spec, sel.params) for sel in recipe.metrics)  # type: ignore[misc]


def build_callbacks(recipe: Recipe, run_path: Path) -> list[Any]:
    """The recipe's ``[[callbacks]]``, for the run folder ``run_path``."""
    context = CallbackContext(run_path=run_path, recipe_name=recipe.name)
    return [sel.spec.factory(sel.params, context) for sel in recipe.callbacks]
