"""Everything a training run builds from its recipe, once: device, seeds, data, model, base optimizer,
sharpness rule, step engine, loss, learning-rate schedule and the evaluation step."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from ..build import (build_datamodule, build_loss, build_model, build_optimizer, build_rule, model_inputs,
                     recipe_rho_schedule)
from ..data.module import DataModule
from ..devices import Placement, place
from ..engine import SharpnessStep, StepOutput
from ..errors import SharpregError
from ..evaluation.inference import LossFn, batch_inputs
from ..evaluation.step import Evaluator
from ..recipe import Recipe
from ..recipe.core import TrainConfig
from ..specs import SchedulePlan
from .batches import TrainBatches, batch_sizes, micro_batches, smallest_batch
from .setup import lr_factor, seed_everything


@dataclass
class LrSchedule:
    """The learning rate of every optimizer step (warm-up, then constant, cosine or step decay)."""

    train: TrainConfig
    base_lrs: list[float]
    steps_per_epoch: int

    @property
    def total_steps(self) -> int:
        return self.steps_per_epoch * self.train.epochs

    def apply(self, optimizer: torch.optim.Optimizer, step: int) -> None:
        for g, base in zip(optimizer.param_groups, self.base_lrs):
            g["lr"] = base * lr_factor(self.train, step, self.total_steps, self.steps_per_epoch, base)

    def lr_range(self) -> tuple[float, float]:
        """(smallest, first) learning rate of the first parameter group, for radius schedules."""
        lr0, total = self.base_lrs[0], self.total_steps
        lr_min = min(lr0 * lr_factor(self.train, s, total, self.steps_per_epoch, lr0)
                     for s in range(0, total, max(1, total // 200)))
        return lr_min, lr0


@dataclass
class TrainingParts:
    placement: Placement
    determinism: dict[str, Any]
    dm: DataModule
    model: nn.Module
    optimizer: torch.optim.Optimizer
    engine: SharpnessStep
    loss_fn: LossFn
    schedule: LrSchedule
    evaluator: Evaluator
    smallest_batch: int
    """fewest images in a training batch or micro-batch (2 under BatchNorm: ``batches.py``)"""

    @property
    def device(self) -> torch.device:
        return self.placement.device

    @property
    def steps_per_epoch(self) -> int:
        return self.schedule.steps_per_epoch

    def train_step(self, train: TrainConfig, epoch: int, i: int, batch: dict[str, Any]) -> StepOutput:
        """Optimizer step ``i`` of ``epoch`` on ``batch``: the learning rate of that step, then the engine's
        passes over its micro-batches (``train.accumulate``, fewer where one would be too small)."""
        self.schedule.apply(self.optimizer, epoch * self.steps_per_epoch + i)
        x, y = batch_inputs(batch, self.device, non_blocking=True)
        return self.engine.step(micro_batches(x, y, train.accumulate, self.smallest_batch), self.loss_fn)

    def loader(self, train: TrainConfig, epoch: int) -> DataLoader:
        """The training loader of ``epoch``: shuffling and augmentation depend only on (seed, epoch).

        torch's own loader on purpose: MONAI's reseeds the data set's random transforms from the loader's
        generator, which would replace the data module's per-image (seed, epoch, index) seeding."""
        self.dm.set_epoch(epoch)
        gen = torch.Generator().manual_seed(train.seed * 1_000_003 + epoch)
        data = self.dm.dataset("train")
        batches = TrainBatches(len(data), train.batch_size, gen, self.smallest_batch)
        return DataLoader(data, batch_sampler=batches, num_workers=self.placement.num_workers, generator=gen,
                          pin_memory=self.device.type == "cuda")

    def checkpoint_bytes(self) -> int:
        """Disk the run's checkpoints and weights take at most: best, last (and its temporary copy),
        safetensors, logs."""
        model_bytes = sum(t.numel() * t.element_size() for t in self.model.state_dict().values())
        opt_bytes = sum(t.numel() * t.element_size() for s in self.optimizer.state.values()
                        for t in s.values() if isinstance(t, torch.Tensor)) or 2 * model_bytes
        return 3 * model_bytes + 2 * (model_bytes + opt_bytes) + 16 * 2**20


def build_parts(recipe: Recipe) -> TrainingParts:
    """Device, seeds, data, model, optimizer, rule, engine, loss and schedule, in an order that keeps the
    random number generators' draws the same for every run of the recipe."""
    cfg = recipe.train
    placement = place(cfg.device, cfg.precision, cfg.num_workers)
    device = placement.device
    determinism = seed_everything(cfg.seed, cfg.deterministic)
    dm = build_datamodule(recipe)
    dm.setup()
    train_labels = dm.labels("train")
    if len(train_labels) == 0:
        raise SharpregError("the training split is empty; lower data.split.val / data.split.test")
    model = build_model(recipe, model_inputs(recipe, dm.class_names)).to(device)
    optimizer = build_optimizer(recipe, model)
    rule = build_rule(recipe)
    smallest = smallest_batch(model)
    steps = len(batch_sizes(len(train_labels), cfg.batch_size, smallest))
    schedule = LrSchedule(cfg, [g["lr"] for g in optimizer.param_groups],
                          min(steps, cfg.max_steps_per_epoch) if cfg.max_steps_per_epoch else steps)
    rho_schedule = recipe_rho_schedule(recipe, SchedulePlan(lr_range=schedule.lr_range(), total_steps=schedule.total_steps))
    engine = SharpnessStep(model, optimizer, rule, recipe.sharpness.params, precision=placement.precision,
                           clip_grad_norm=cfg.clip_grad_norm, rho_schedule=rho_schedule, device_type=device.type,
                           total_steps=schedule.total_steps)
    loss_fn = build_loss(recipe, dm.num_classes, np.bincount(train_labels, minlength=dm.num_classes), device)
    evaluator = Evaluator.for_recipe(recipe, model, placement, loss_fn, dm.class_names)
    return TrainingParts(placement, determinism, dm, model, optimizer, engine, loss_fn, schedule, evaluator, smallest)
