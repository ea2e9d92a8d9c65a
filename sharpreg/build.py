"""Turn a validated recipe into objects: data module, network, base optimizer, rule, step engine."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from .data.module import DataContext, DataModule
from .engine import SharpnessRule
from .recipe import Recipe
from .specs import ModelInputs, OptimizerParams


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
    """One group, or two when biases and normalization weights are excluded from weight decay."""
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not params.no_decay_norm_bias or params.weight_decay == 0:
        return [{"params": [p for _, p in trainable]}]
    decay = [p for _, p in trainable if p.ndim > 1]
    no_decay = [p for _, p in trainable if p.ndim <= 1]
    return [{"params": decay}, {"params": no_decay, "weight_decay": 0.0}]


def build_optimizer(recipe: Recipe, model: nn.Module) -> torch.optim.Optimizer:
    params = recipe.optimizer.params
    return recipe.optimizer.spec.factory(param_groups(model, params), params)


def build_rule(recipe: Recipe) -> SharpnessRule:
    return recipe.sharpness.spec.factory(recipe.sharpness.params)
