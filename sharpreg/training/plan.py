"""A run's plan, shown before the work: device and precision used, data, model size, steps and passes;
and :func:`dry_run`, the plan with an estimate from a few timed steps and no run folder (``sharpreg run
--plan``, ``sharpreg sweep --plan``)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import torch

from ..data.module import SPLITS
from ..devices import Placement, usable_cores
from ..recipe import Recipe
from .estimate import Estimate, StepTimer, Workload, count
from .parts import TrainingParts, build_parts


#: the plan's words for each data cache
CACHE_WORDS = {"memory": "decoded and cached in memory in {seconds:.1f} s",
               "disk": "cached in memory from the disk cache (decoding what it lacked) in {seconds:.1f} s",
               "none": "not cached"}


@dataclass(frozen=True)
class RunPlan:
    """What a run will do, in numbers."""

    name: str
    placement: Placement
    device_name: str
    threads: int
    dataset: str
    images: dict[str, int]
    image_size: int
    channels: int
    cache: str
    """where the data set keeps its prepared images: ``memory``, ``disk`` (and memory) or ``none``"""
    prepare_seconds: float
    """decoding and caching the training images"""
    setup_seconds: float
    """building the run (data, model, engine) and preparing its data"""
    model: str
    parameters: int
    epochs: int
    steps_per_epoch: int
    batch_size: int
    rule: str
    passes: int
    patience: int | None
    monitor: str
    notes: tuple[str, ...] = field(default=())

    def lines(self) -> list[str]:
        """The plan as short labelled lines (the notes, if any, last)."""
        p = self.placement
        where = (f"{self.device_name} · {count(usable_cores(), 'core')}, {count(self.threads, 'torch thread')}"
                 if p.device.type == "cpu" else self.device_name)
        counts = ", ".join(f"{n} {s}" for s, n in self.images.items())
        data = (f"{self.dataset} · {counts} images · {self.image_size} px, {count(self.channels, 'channel')} · "
                + CACHE_WORDS[self.cache].format(seconds=self.prepare_seconds))
        stop = (f" · stops early after {self.patience} epochs without a better val {self.monitor}"
                if self.patience else "")
        rows = [("device", f"{where} · {p.precision} · {count(p.num_workers, 'loader worker')}"),
                ("data", data),
                ("model", f"{self.model} · {self.parameters / 1e6:.3g} M parameters"),
                ("training", f"{self.epochs} epochs × {self.steps_per_epoch} steps of {self.batch_size} images · "
                             f"{self.rule}: {count(self.passes, 'pass', 'passes')} per step{stop}")]
        rows += [("note", n) for n in self.notes]
        return [f"plan for {self.name}"] + [f"  {k:<9} {v}" for k, v in rows]

    def record(self) -> dict[str, Any]:
        """The plan for ``events.jsonl``."""
        return {**self.placement.record(), "device_name": self.device_name, "dataset": self.dataset,
                "images": self.images, "image_size": self.image_size, "channels": self.channels,
                "cached": self.cache != "none", "cache": self.cache, "prepare_seconds": round(self.prepare_seconds, 3),
                "setup_seconds": round(self.setup_seconds, 3), "model": self.model,
                "parameters": self.parameters, "epochs": self.epochs, "steps_per_epoch": self.steps_per_epoch,
                "batch_size": self.batch_size, "rule": self.rule, "passes_per_step": self.passes,
                "patience": self.patience, "notes": list(self.notes)}


def prepare_training_data(parts: TrainingParts) -> float:
    """Build the training data set (decoding and caching its images, where the data set caches) and
    return the seconds it took, so that the first timed steps do not include it."""
    t0 = time.perf_counter()
    parts.train_dataset()
    return time.perf_counter() - t0


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type


def make_plan(recipe: Recipe, parts: TrainingParts, started: float) -> RunPlan:
    """The plan of ``recipe`` as built in ``parts`` since ``started`` (``time.perf_counter()``), after
    preparing the training data."""
    prepare_seconds = prepare_training_data(parts)
    cfg, dm = recipe.train, parts.dm
    arch = recipe.model.params.architecture()
    return RunPlan(
        name=recipe.name, placement=parts.placement, device_name=device_name(parts.device),
        threads=torch.get_num_threads(), dataset=recipe.data.name,
        images={s: len(dm.labels(s)) for s in SPLITS}, image_size=dm.image_size, channels=dm.in_chans,
        cache=parts.data_cache, prepare_seconds=prepare_seconds,
        setup_seconds=time.perf_counter() - started,
        model=f"{recipe.model.name} {arch}" if arch else recipe.model.name,
        parameters=sum(p.numel() for p in parts.model.parameters()),
        epochs=cfg.epochs, steps_per_epoch=parts.steps_per_epoch, batch_size=cfg.batch_size,
        rule=recipe.sharpness.name, passes=int(parts.engine.rule.passes(0)), patience=cfg.patience,
        monitor=cfg.monitor, notes=parts.placement.notes)


def run_workload(recipe: Recipe, parts: TrainingParts, epoch: int = 0, step: int = 0) -> Workload:
    """The work of ``recipe`` from step ``step`` of epoch ``epoch`` to its end."""
    cfg = recipe.train
    return Workload.of_run(cfg.epochs, parts.steps_per_epoch, epoch, step, len(parts.dm.labels("val")),
                           cfg.batch_size, early_stop=cfg.patience is not None)


def build_plan(recipe: Recipe) -> tuple[RunPlan, TrainingParts]:
    """Build the run in memory (no run folder) and its plan."""
    started = time.perf_counter()
    parts = build_parts(recipe)
    return make_plan(recipe, parts, started), parts


def time_steps(recipe: Recipe, parts: TrainingParts, *, timed_steps: int) -> Estimate:
    """Time the first steps of ``parts`` (after a warm-up step); the trained weights are to be discarded."""
    timer = StepTimer(parts.steps_per_epoch, timed_steps)
    parts.model.train()
    last = time.perf_counter()
    try:
        for i, batch in enumerate(parts.loader(recipe.train, 0)):
            out, _, _ = parts.train_step(recipe.train, 0, i, batch)
            now = time.perf_counter()
            if timer.add(now - last, out.passes):
                break
            last = now
    finally:
        parts.close()  # the loader's workers persist across epochs; these steps are all there is
    return timer.estimate(run_workload(recipe, parts), parts.device.type)


def dry_run(recipe: Recipe, *, timed_steps: int) -> tuple[RunPlan, Estimate]:
    """The plan and an estimate from a few timed steps, leaving nothing behind."""
    plan, parts = build_plan(recipe)
    return plan, time_steps(recipe, parts, timed_steps=timed_steps)
