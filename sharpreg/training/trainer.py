"""The trainer: data, model and step engine from a recipe; epochs with validation; a run folder."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from monai.data import DataLoader
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from torch import nn

from ..build import build_datamodule, build_model, build_optimizer, build_rule
from ..data.module import Split
from ..engine import SharpnessStep
from ..errors import SharpregError
from ..evaluation.metrics import as_jsonable, compute_metrics
from ..recipe import Recipe
from ..runs import RunFolder
from .setup import lr_factor, resolve_device, seed_everything

log = logging.getLogger("sharpreg")
LOWER_IS_BETTER = {"loss", "ece"}


@dataclass
class EpochResult:
    epoch: int
    train: dict[str, float]
    val: dict[str, float]
    seconds: float
    diagnostics: dict[str, float] = field(default_factory=dict)


class Trainer:
    """Trains ``recipe`` into ``run``. ``fit()`` returns the summary written to ``summary.json``."""

    def __init__(self, recipe: Recipe, run: RunFolder, *, console: Console | None = None, progress: bool = True) -> None:
        self.recipe = recipe
        self.run = run
        self.console = console or Console(stderr=True)
        self.show_progress = progress
        self.cfg = recipe.train
        self.epoch = 0
        self.best: dict[str, Any] = {"epoch": None, "value": None}
        self.history: list[EpochResult] = []

    # -- construction -----------------------------------------------------------------------------
    def setup(self) -> None:
        cfg = self.cfg
        self.device = resolve_device(cfg.device)
        if cfg.precision == "fp16" and self.device.type != "cuda":
            raise SharpregError("train.precision = 'fp16' needs a CUDA GPU; use 'bf16' or 'fp32' on this device")
        self.determinism = seed_everything(cfg.seed, cfg.deterministic)
        self.dm = build_datamodule(self.recipe)
        self.dm.setup()
        if len(self.dm.labels("train")) == 0:
            raise SharpregError("the training split is empty; lower data.split.val / data.split.test")
        self.model = build_model(self.recipe, self.dm).to(self.device)
        self.optimizer = build_optimizer(self.recipe, self.model)
        self.rule = build_rule(self.recipe)
        self.base_lrs = [g["lr"] for g in self.optimizer.param_groups]
        self.steps_per_epoch = self._steps_per_epoch()
        self.total_steps = self.steps_per_epoch * cfg.epochs
        lr0 = self.base_lrs[0]
        lr_min = min(lr0 * lr_factor(cfg, s, self.total_steps, self.steps_per_epoch, lr0) for s in range(0, self.total_steps, max(1, self.total_steps // 200)))
        self.engine = SharpnessStep(
            self.model, self.optimizer, self.rule, self.recipe.sharpness.params,
            precision=cfg.precision, clip_grad_norm=cfg.clip_grad_norm, lr_range=(lr_min, lr0),
        )
        weights = None
        if cfg.class_weights == "balanced":
            counts = np.bincount(self.dm.labels("train"), minlength=self.dm.num_classes).astype(np.float64)
            weights = torch.tensor(counts.sum() / (len(counts) * np.maximum(counts, 1)), dtype=torch.float32, device=self.device)
        self.loss_fn = nn.CrossEntropyLoss(weight=weights, label_smoothing=cfg.label_smoothing)
        self.run.write_json("split.json", self.dm.split_record())
        self.run.write_environment(self.recipe, {"device": str(self.device), "determinism": self.determinism,
                                                 "torch_cuda": torch.version.cuda})

    def _loader(self, split: Split, *, train: bool, epoch: int = 0) -> DataLoader:
        ds = self.dm.dataset(split)
        gen = torch.Generator().manual_seed(self.cfg.seed * 1_000_003 + epoch)
        return DataLoader(ds, batch_size=self.cfg.batch_size, shuffle=train, drop_last=False,
                          num_workers=self.cfg.num_workers, generator=gen, pin_memory=self.device.type == "cuda")

    def _steps_per_epoch(self) -> int:
        n = math.ceil(len(self.dm.labels("train")) / self.cfg.batch_size)
        return min(n, self.cfg.max_steps_per_epoch) if self.cfg.max_steps_per_epoch else n

    def _set_lr(self, step: int) -> None:
        for g, base in zip(self.optimizer.param_groups, self.base_lrs):
            g["lr"] = base * lr_factor(self.cfg, step, self.total_steps, self.steps_per_epoch, base)

    # -- the loop -------------------------------------------------------------------------------
    def fit(self) -> dict[str, Any]:
        handler = self.run.attach_log()
        try:
            self.setup()
            log.info("run %s: %s on %s", self.run.path, self.recipe.name, self.device)
            self.run.event("start", epochs=self.cfg.epochs)
            start = time.perf_counter()
            with self._progress() as progress:
                for epoch in range(self.epoch, self.cfg.epochs):
                    result = self.train_epoch(epoch, progress)
                    self.history.append(result)
                    self._record(result)
                    if self._should_stop():
                        log.info("early stop after epoch %d (no %s gain for %d epochs)", epoch + 1, self.cfg.monitor, self.cfg.patience)
                        break
            summary = self.finish(time.perf_counter() - start)
            return summary
        finally:
            logging.getLogger("sharpreg").removeHandler(handler)
            handler.close()

    def _progress(self) -> Progress:
        return Progress(
            TextColumn("[bold]epoch {task.fields[epoch]}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]:.4f}  {task.fields[monitor]}  {task.fields[speed]}"),
            TimeElapsedColumn(), TimeRemainingColumn(), console=self.console, disable=not self.show_progress,
            transient=False,
        )

    def train_epoch(self, epoch: int, progress: Progress) -> EpochResult:
        self.model.train()
        if hasattr(self.dm, "set_epoch"):
            self.dm.set_epoch(epoch)
        loader = self._loader("train", train=True, epoch=epoch)
        task = progress.add_task("train", total=self.steps_per_epoch, epoch=f"{epoch + 1}/{self.cfg.epochs}",
                                 loss=float("nan"), monitor="", speed="")
        t0 = time.perf_counter()
        losses, seen, probs, labels = [], 0, [], []
        diag: dict[str, list[float]] = {}
        for i, batch in enumerate(loader):
            if i >= self.steps_per_epoch:
                break
            self._set_lr(epoch * self.steps_per_epoch + i)
            x = batch["image"].to(self.device, non_blocking=True)
            y = batch["label"].to(self.device, non_blocking=True).long()
            micro = list(zip(x.chunk(self.cfg.accumulate), y.chunk(self.cfg.accumulate)))
            out = self.engine.step(micro, self.loss_fn)
            if not math.isfinite(out.loss) and self.cfg.on_nonfinite == "stop":
                raise SharpregError(f"non-finite loss at epoch {epoch + 1}, step {i + 1}; the last good checkpoint is in {self.run.path / 'checkpoints'}")
            losses.append(out.loss * len(y))
            seen += len(y)
            if out.logits is not None:
                probs.append(torch.softmax(out.logits.float(), dim=1).cpu())
                labels.append(y.cpu())
            for k, v in out.diagnostics.items():
                diag.setdefault(k, []).append(float(v))
            rate = seen / max(1e-9, time.perf_counter() - t0)
            progress.update(task, advance=1, loss=sum(losses) / seen, speed=f"{rate:.0f} img/s")
        train_metrics = {"loss": sum(losses) / max(1, seen)}
        if probs:
            train_metrics |= compute_metrics(torch.cat(labels).numpy(), torch.cat(probs).numpy(), self.dm.class_names,
                                             positive_class=self.recipe.eval.positive_class)
        val = self.evaluate("val") if len(self.dm.labels("val")) else {}
        shown = val.get(self.cfg.monitor)
        progress.update(task, monitor=f"val {self.cfg.monitor} {shown:.4f}" if shown is not None else "")
        progress.remove_task(task) if not self.show_progress else None
        return EpochResult(epoch, train_metrics, val, time.perf_counter() - t0,
                           {k: float(np.mean(v)) for k, v in diag.items()})

    @torch.no_grad()
    def predict(self, split: Split) -> tuple[np.ndarray, np.ndarray, float]:
        """Labels, class probabilities and mean loss of ``split`` (no augmentation)."""
        self.model.eval()
        ds = self.dm.dataset(split, train_transforms=False)
        loader = DataLoader(ds, batch_size=self.cfg.batch_size, shuffle=False, num_workers=self.cfg.num_workers)
        probs, labels, loss, n = [], [], 0.0, 0
        autocast = torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.cfg.precision == "bf16")
        for batch in loader:
            x = batch["image"].to(self.device)
            y = batch["label"].to(self.device).long()
            with autocast:
                logits = self.model(x)
            loss += float(self.loss_fn(logits.float(), y)) * len(y)
            n += len(y)
            probs.append(torch.softmax(logits.float(), dim=1).cpu())
            labels.append(y.cpu())
        self.model.train()
        return torch.cat(labels).numpy(), torch.cat(probs).numpy(), loss / max(1, n)

    def evaluate(self, split: Split) -> dict[str, float]:
        labels, probs, loss = self.predict(split)
        return {"loss": loss} | compute_metrics(labels, probs, self.dm.class_names, positive_class=self.recipe.eval.positive_class,
                                                calibration_bins=self.recipe.eval.calibration_bins)

    # -- bookkeeping ------------------------------------------------------------------------------
    def _improved(self, value: float | None) -> bool:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return self.best["epoch"] is None
        if self.best["value"] is None:
            return True
        return value < self.best["value"] if self.cfg.monitor in LOWER_IS_BETTER else value > self.best["value"]

    def _record(self, r: EpochResult) -> None:
        row = {"epoch": r.epoch + 1, "seconds": round(r.seconds, 3), "lr": self.optimizer.param_groups[0]["lr"]}
        row |= {f"train_{k}": v for k, v in r.train.items()}
        row |= {f"val_{k}": v for k, v in r.val.items()}
        row |= {f"diag_{k}": v for k, v in r.diagnostics.items()}
        self.run.append_metrics(row)
        self.run.event("epoch", **row)
        log.info("epoch %d: %s", r.epoch + 1, ", ".join(f"{k}={v:.4g}" for k, v in row.items() if isinstance(v, float)))
        value = r.val.get(self.cfg.monitor, r.train.get(self.cfg.monitor))
        if self._improved(value):
            self.best = {"epoch": r.epoch + 1, "value": value}
            self.best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        self.epoch = r.epoch + 1

    def _should_stop(self) -> bool:
        p = self.cfg.patience
        return p is not None and self.best["epoch"] is not None and self.epoch - self.best["epoch"] >= p

    def finish(self, seconds: float) -> dict[str, Any]:
        if getattr(self, "best_state", None) is not None:
            self.model.load_state_dict(self.best_state)
        test = self.evaluate("test") if len(self.dm.labels("test")) else {}
        last = self.history[-1] if self.history else None
        summary = {
            "recipe": self.recipe.name,
            "run": str(self.run.path),
            "epochs_run": self.epoch,
            "best_epoch": self.best["epoch"],
            "monitor": self.cfg.monitor,
            "best_val": self.best["value"],
            "test": as_jsonable(test),
            "train_final": as_jsonable(last.train) if last else {},
            "seconds": round(seconds, 2),
            "steps": self.engine.step_count,
            "skipped_steps": self.engine.skipped_steps,
            "passes_per_step": self.rule.passes(0),
            "rule": self.recipe.sharpness.name,
            "optimizer": self.recipe.optimizer.name,
            "model": self.recipe.model.name,
            "dataset": self.recipe.data.name,
            "classes": self.dm.class_names,
        }
        self.run.write_json("summary.json", summary)
        self.run.event("finish", seconds=seconds)
        self.print_summary(summary)
        return summary

    def print_summary(self, summary: dict[str, Any]) -> None:
        table = Table(title=f"{summary['recipe']}: test set (best epoch {summary['best_epoch']} by val {summary['monitor']})")
        table.add_column("metric")
        table.add_column("value", justify="right")
        for k, v in summary["test"].items():
            if "_" in k and k.split("_", 1)[0] in {"sensitivity", "specificity"}:
                continue
            table.add_row(k, "n/a" if v is None else f"{v:.4f}")
        self.console.print(table)
        self.console.print(f"{summary['epochs_run']} epochs, {summary['steps']} steps, {summary['seconds']:.1f} s; "
                           f"rule {summary['rule']} ({summary['passes_per_step']} pass(es)/step). Run folder: {self.run.path}")
