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


def build_model(recipe: Recipe, dm: DataModule) -> nn.Module:
    inputs = ModelInputs(in_chans=dm.in_chans, num_classes=dm.num_classes, image_size=dm.image_size)
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
