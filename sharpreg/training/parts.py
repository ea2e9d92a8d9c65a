"""Everything a training run builds from its recipe, once: device, seeds, data, model, base optimizer,
sharpness rule, step engine, loss, learning-rate schedule and the evaluation step."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ..build import (build_datamodule, build_loss, build_model, build_optimizer, build_rule, model_inputs,
                     recipe_rho_schedule)
from ..data.augment import augment_batch
from ..data.diskcache import cache_mode
from ..data.images import ImageDataModule
from ..data.module import SPLITS, DataModule
from ..data.sampler import GlobalBatches
from ..data.transforms import normalize_batch
from ..devices import Placement, place
from ..distributed import SINGLE, Replicas, check_world
from ..engine import SharpnessStep, StepOutput
from ..errors import SharpregError
from ..evaluation.inference import LossFn, batch_inputs
from ..evaluation.step import Evaluator
from ..launch import launched
from ..recipe import Recipe
from ..recipe.core import TrainConfig
from ..specs import SchedulePlan
from .batches import batch_sizes, micro_batches, smallest_batch, smallest_global_batch
from .runtime import place_model, wrap
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
    """the network (weights and checkpoints); the engine may call it through ``torch.compile`` and DDP"""
    optimizer: torch.optim.Optimizer
    engine: SharpnessStep
    loss_fn: LossFn
    schedule: LrSchedule
    evaluator: Evaluator
    smallest_batch: int
    """fewest images in a training batch or micro-batch (2 under BatchNorm: ``batches.py``)"""
    replicas: Replicas = SINGLE
    sampler: GlobalBatches | None = None
    channels_last: bool = False
    deferred_augmentation: bool = False
    """the batch is augmented on the device (CUDA) from the draws its items carry, then normalized there"""
    _loader: DataLoader | None = None

    @property
    def device(self) -> torch.device:
        return self.placement.device

    @property
    def steps_per_epoch(self) -> int:
        return self.schedule.steps_per_epoch

    def train_step(self, train: TrainConfig, epoch: int, i: int, batch: dict[str, Any]) -> tuple[StepOutput, int, int]:
        """Optimizer step ``i`` of ``epoch`` on ``batch`` (this process's part of the step's images): the
        learning rate of that step, then the engine's passes over its micro-batches (``train.accumulate``,
        fewer where one would be too small), each weighted by its share of the step's images over all
        processes. Returns the step's output, the images it held over all processes and this process's."""
        assert self.sampler is not None
        self.schedule.apply(self.optimizer, epoch * self.steps_per_epoch + i)
        micro = micro_batches(*self.inputs(batch), train.accumulate, self.smallest_batch)
        total, mine = self.sampler.global_size(i), self.sampler.local_size(i)
        out = self.engine.step(micro, self.loss_fn, weights=[len(y) / total if mine else 0.0 for _, y in micro])
        return out, total, mine

    def loader(self, train: TrainConfig, epoch: int, start: int = 0) -> DataLoader:
        """This process's batches of ``epoch`` from step ``start`` on: shuffling and augmentation depend only
        on (seed, epoch). One loader serves every epoch, so worker processes persist.

        torch's own loader on purpose: MONAI's reseeds the data set's random transforms from the loader's
        generator, which would replace the data module's per-image (seed, epoch, index) seeding."""
        assert self.sampler is not None
        self.dm.set_epoch(epoch)
        self.sampler.set_epoch(epoch, start)
        if self._loader is None:
            self._loader = DataLoader(self.train_dataset(), batch_sampler=self.sampler, num_workers=self.placement.num_workers,
                                      pin_memory=self.device.type == "cuda", persistent_workers=self.placement.num_workers > 0,
                                      generator=torch.Generator().manual_seed(train.seed))
        return self._loader

    def train_dataset(self) -> Dataset:
        """The training images as the loader reads them (augmented in the items, or carrying their draws)."""
        if self.deferred_augmentation and isinstance(self.dm, ImageDataModule):
            return self.dm.dataset("train", defer_augmentation=True)
        return self.dm.dataset("train")

    @property
    def data_cache(self) -> str:
        """Where the training images are kept once prepared: ``memory``, ``disk`` (and memory) or ``none``."""
        if isinstance(self.dm, ImageDataModule):
            return cache_mode(self.dm)
        return str(getattr(self.dm.params, "cache", "none"))

    def close(self) -> None:
        """Let the loader's worker processes go (they persist across epochs, not past the run)."""
        self._loader = None

    def inputs(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """A training batch on the device: augmented there when deferred, in the model's memory layout."""
        x, y = batch_inputs(batch, self.device, non_blocking=True)
        if self.deferred_augmentation:
            x = normalize_batch(augment_batch(x, batch), self.dm.params.normalize)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, y

    def checkpoint_bytes(self) -> int:
        """Disk the run's checkpoints and weights take at most: best, last (and its temporary copy),
        safetensors, logs."""
        model_bytes = sum(t.numel() * t.element_size() for t in self.model.state_dict().values())
        opt_bytes = sum(t.numel() * t.element_size() for s in self.optimizer.state.values()
                        for t in s.values() if isinstance(t, torch.Tensor)) or 2 * model_bytes
        return 3 * model_bytes + 2 * (model_bytes + opt_bytes) + 16 * 2**20


def build_parts(recipe: Recipe, replicas: Replicas = SINGLE) -> TrainingParts:
    """Device, seeds, data, model, optimizer, rule, engine, loss and schedule, in an order that keeps the
    random number generators' draws the same for every run of the recipe (and on every process)."""
    cfg = recipe.train
    placement = place(cfg.device, cfg.precision, cfg.num_workers, replicas.local_rank if launched() else None)
    device = placement.device
    check_world(replicas.world, cfg.batch_size)
    determinism = seed_everything(cfg.seed, cfg.deterministic)
    dm = build_datamodule(recipe)
    dm.setup()
    train_labels = dm.labels("train")
    if len(train_labels) == 0:
        raise SharpregError("the training split is empty; lower data.split.val / data.split.test")
    deferred = device.type == "cuda" and isinstance(dm, ImageDataModule)
    _fill_caches(dm, replicas, deferred)
    model, channels_last = place_model(build_model(recipe, model_inputs(recipe, dm.class_names)), cfg, device, replicas)
    optimizer = build_optimizer(recipe, model)
    rule = build_rule(recipe)
    smallest = smallest_batch(model)
    least = smallest_global_batch(smallest, replicas.world, cfg.sync_batchnorm)
    if replicas.world > 1 and cfg.batch_size < least:  # one process: the step's dry run (probe.py) says it
        raise SharpregError(f"train.batch_size = {cfg.batch_size} on {replicas.world} processes leaves a process fewer than "
                            f"{smallest} images of a batch, which BatchNorm cannot train on: raise train.batch_size to "
                            f"at least {least}, start fewer processes, or set train.sync_batchnorm = true (CUDA)")
    sampler = GlobalBatches(len(train_labels), cfg.batch_size, cfg.seed, rank=replicas.rank, world=replicas.world,
                            max_steps=cfg.max_steps_per_epoch,
                            sizes=batch_sizes(len(train_labels), cfg.batch_size, least))
    schedule = LrSchedule(cfg, [g["lr"] for g in optimizer.param_groups], sampler.steps)
    rho_schedule = recipe_rho_schedule(recipe, SchedulePlan(lr_range=schedule.lr_range(), total_steps=schedule.total_steps))
    wrapped = wrap(model, cfg, device, replicas)
    engine = SharpnessStep(wrapped.train_forward, optimizer, rule, recipe.sharpness.params, precision=placement.precision,
                           clip_grad_norm=cfg.clip_grad_norm, rho_schedule=rho_schedule, device_type=device.type,
                           total_steps=schedule.total_steps)
    loss_fn = build_loss(recipe, dm.num_classes, np.bincount(train_labels, minlength=dm.num_classes), device)
    evaluator = Evaluator.for_recipe(recipe, wrapped.forward, placement, loss_fn, dm.class_names, replicas=replicas,
                                     channels_last=channels_last)
    return TrainingParts(placement, determinism, dm, model, optimizer, engine, loss_fn, schedule, evaluator, smallest,
                         replicas, sampler, channels_last, deferred)


def _fill_caches(dm: DataModule, replicas: Replicas, deferred: bool) -> None:
    """Several processes on a disk cache: rank 0 decodes and writes the images first, the others then
    read them (instead of every process decoding everything at once)."""
    if not replicas.active or not isinstance(dm, ImageDataModule) or cache_mode(dm) != "disk":
        return
    if not replicas.main:
        torch.distributed.barrier()
    for split in SPLITS:  # the data sets training and evaluation will use
        if split != "train" and len(dm.labels(split)):
            dm.dataset(split, train_transforms=False)
    dm.dataset("train", defer_augmentation=deferred)
    if replicas.main:
        torch.distributed.barrier()
