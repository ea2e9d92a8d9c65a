"""The trainer: data, model and step engine from a recipe; epochs with validation, model selection,
early stopping, checkpoints that resume exactly, and the run folder's summary, predictions and plots."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from torch import nn
from torch.utils.data import DataLoader

from ..build import build_datamodule, build_model, build_optimizer, build_rule
from ..data.module import Split
from ..engine import SharpnessStep
from ..errors import RunError, SharpregError
from ..evaluation.inference import Predictions, predict
from ..evaluation.predictions import write_predictions
from ..metrics import bootstrap_intervals, compute_metrics, generalization_gap
from ..metrics.table import lower_is_better
from ..runs.summary import finite_or_none
from ..recipe import Recipe
from ..reporting.tables import print_summary
from ..runs import RunFolder
from .diagnostics import nanmean, summarize_steps
from .checkpoint import load_checkpoint, rng_state, save_checkpoint, save_safetensors, set_rng_state
from .interrupt import StopFlag, graceful_interrupt
from .setup import lr_factor, resolve_device, seed_everything
from .trackers import Trackers

log = logging.getLogger("sharpreg")


class TrainingInterrupted(RunError):
    """Stopped by Ctrl-C; a checkpoint was saved (exit code 130, like an interrupted shell command)."""

    exit_code = 130


class NonFiniteLoss(RunError):
    """A non-finite loss with ``train.on_nonfinite = "stop"``."""


@dataclass
class EpochState:
    """What one epoch has accumulated so far (saved in a mid-epoch checkpoint)."""

    steps: int = 0
    seen: int = 0
    loss_sum: float = 0.0
    skipped: int = 0
    passes: int = 0
    seconds: float = 0.0
    probs: list[torch.Tensor] = field(default_factory=list)
    labels: list[torch.Tensor] = field(default_factory=list)
    diag: dict[str, list[float]] = field(default_factory=dict)

    def to_plain(self) -> dict[str, Any]:
        return {"steps": self.steps, "seen": self.seen, "loss_sum": self.loss_sum, "skipped": self.skipped,
                "passes": self.passes, "seconds": self.seconds, "probs": list(self.probs),
                "labels": list(self.labels), "diag": {k: list(v) for k, v in self.diag.items()}}

    @classmethod
    def from_plain(cls, d: dict[str, Any]) -> EpochState:
        return cls(steps=int(d["steps"]), seen=int(d["seen"]), loss_sum=float(d["loss_sum"]), skipped=int(d["skipped"]),
                   passes=int(d["passes"]), seconds=float(d["seconds"]), probs=[t.cpu() for t in d["probs"]],
                   labels=[t.cpu() for t in d["labels"]],
                   diag={k: list(v) for k, v in d["diag"].items()})


def recipe_digest(recipe: Recipe) -> str:
    """Hash of the resolved recipe: a checkpoint only resumes the recipe it was written for."""
    return hashlib.sha256(json.dumps(recipe.resolved(), sort_keys=True, default=str).encode()).hexdigest()[:16]


class Trainer:
    """Trains ``recipe`` into ``run``. ``fit()`` returns the summary written to ``summary.json``.

    ``resume=True`` continues from ``checkpoints/last.pt`` of ``run``. ``after_step(epoch, step)``
    is called after every optimizer step (tests use it to interrupt a run at a chosen point)."""

    def __init__(self, recipe: Recipe, run: RunFolder, *, console: Console | None = None, progress: bool = True,
                 resume: bool = False) -> None:
        self.recipe = recipe
        self.run = run
        self.console = console or Console(stderr=True)
        self.show_progress = progress
        self.resuming = resume
        self.cfg = recipe.train
        self.epoch = 0
        self.best: dict[str, Any] = {"epoch": None, "value": None}
        self.best_state: dict[str, torch.Tensor] | None = None
        self.history: list[dict[str, Any]] = []
        self.partial: EpochState | None = None
        self.stopped_early = False
        self.elapsed = 0.0
        self.total_passes = 0
        self.sessions = 1
        self.stop = StopFlag()
        self.after_step: Callable[[int, int], None] | None = None
        self._ready = False

    # -- construction -----------------------------------------------------------------------------
    def setup(self) -> None:
        """Device, seeds, data, model, optimizer, rule and engine (once)."""
        if self._ready:
            return
        cfg = self.cfg
        self.device = resolve_device(cfg.device)
        if cfg.precision == "fp16" and self.device.type != "cuda":
            raise SharpregError("train.precision = 'fp16' needs a CUDA GPU; use 'bf16' or 'fp32' on this device")
        Trackers.check(list(cfg.loggers))
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
        lr_min = min(lr0 * lr_factor(cfg, s, self.total_steps, self.steps_per_epoch, lr0)
                     for s in range(0, self.total_steps, max(1, self.total_steps // 200)))
        self.engine = SharpnessStep(
            self.model, self.optimizer, self.rule, self.recipe.sharpness.params,
            precision=cfg.precision, clip_grad_norm=cfg.clip_grad_norm, lr_range=(lr_min, lr0),
            device_type=self.device.type,
        )
        weights = None
        if cfg.class_weights == "balanced":
            counts = np.bincount(self.dm.labels("train"), minlength=self.dm.num_classes).astype(np.float64)
            weights = torch.tensor(counts.sum() / (len(counts) * np.maximum(counts, 1)), dtype=torch.float32, device=self.device)
        self.loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = nn.CrossEntropyLoss(
            weight=weights, label_smoothing=cfg.label_smoothing)
        self._ready = True

    def _steps_per_epoch(self) -> int:
        n = math.ceil(len(self.dm.labels("train")) / self.cfg.batch_size)
        return min(n, self.cfg.max_steps_per_epoch) if self.cfg.max_steps_per_epoch else n

    def _loader(self, epoch: int) -> DataLoader:
        """The training loader of ``epoch``: shuffling and augmentation depend only on (seed, epoch).

        torch's own loader on purpose: MONAI's reseeds the data set's random transforms from the loader's
        generator, which would replace the data module's per-image (seed, epoch, index) seeding."""
        self.dm.set_epoch(epoch)
        gen = torch.Generator().manual_seed(self.cfg.seed * 1_000_003 + epoch)
        return DataLoader(self.dm.dataset("train"), batch_size=self.cfg.batch_size, shuffle=True, drop_last=False,
                          num_workers=self.cfg.num_workers, generator=gen, pin_memory=self.device.type == "cuda")

    def _set_lr(self, step: int) -> None:
        for g, base in zip(self.optimizer.param_groups, self.base_lrs):
            g["lr"] = base * lr_factor(self.cfg, step, self.total_steps, self.steps_per_epoch, base)

    def _preflight(self) -> None:
        """A full disk or an unwritable run folder is reported before training starts."""
        probe = self.run.path / ".write-test"
        try:
            self.run.checkpoints.mkdir(exist_ok=True)
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            raise RunError(f"cannot write to the run folder {self.run.path}: {exc.strerror or exc}") from None
        model_bytes = sum(t.numel() * t.element_size() for t in self.model.state_dict().values())
        opt_bytes = sum(t.numel() * t.element_size() for s in self.optimizer.state.values()
                        for t in s.values() if isinstance(t, torch.Tensor)) or 2 * model_bytes
        need = 3 * model_bytes + 2 * (model_bytes + opt_bytes) + 16 * 2**20  # best, last (+tmp), safetensors, logs
        free = shutil.disk_usage(self.run.path).free
        if free < need:
            raise RunError(f"only {free / 2**20:.0f} MiB free under {self.run.path}; checkpoints need about "
                           f"{need / 2**20:.0f} MiB. Free some space or choose another --runs-dir")

    # -- the loop -------------------------------------------------------------------------------
    def fit(self) -> dict[str, Any]:
        handler = self.run.attach_log()
        trackers: Trackers | None = None
        try:
            self.setup()
            self._preflight()
            if self.resuming:
                self._restore()
            else:
                self.run.write_json("split.json", self.dm.split_record())
                self._write_environment()
                self._save_last()  # epoch 0: a run killed in its first epoch can resume too
            log.info("run %s: %s on %s%s", self.run.path, self.recipe.name, self.device,
                     f" (resumed at epoch {self.epoch + 1}, step {self.partial.steps if self.partial else 0})" if self.resuming else "")
            self.run.event("resume" if self.resuming else "start", epoch=self.epoch, epochs=self.cfg.epochs,
                           step=self.partial.steps if self.partial else 0, session=self.sessions,
                           device=str(self.device), torch_threads=torch.get_num_threads())
            trackers = Trackers(list(self.cfg.loggers), self.run.path, self.recipe.name)
            trackers.log_params(self.recipe.resolved())
            start = self._session_start = time.perf_counter()
            try:
                with graceful_interrupt(self.stop, self._notify), self._progress() as progress:
                    while self.epoch < self.cfg.epochs and not self.stopped_early:
                        row = self.train_epoch(self.epoch, progress)
                        trackers.log_metrics(row, step=self.epoch)
            except KeyboardInterrupt:
                raise self._interrupted("the last checkpoint is kept") from None
            finally:
                self.elapsed += time.perf_counter() - start
                self._session_start = None
            summary = self.finish()
            return summary
        finally:
            if trackers is not None:
                trackers.close()
            logging.getLogger("sharpreg").removeHandler(handler)
            handler.close()

    def _notify(self, message: str) -> None:
        self.console.print(f"[yellow]{message}[/]")

    def _progress(self) -> Progress:
        return Progress(
            TextColumn("[bold]epoch {task.fields[epoch]}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]:.4f}  {task.fields[monitor]}  {task.fields[speed]}"),
            TimeElapsedColumn(), TimeRemainingColumn(), console=self.console, disable=not self.show_progress,
            transient=False,
        )

    def train_epoch(self, epoch: int, progress: Progress) -> dict[str, Any]:
        """One epoch (or the rest of it after a mid-epoch resume); returns its ``metrics.csv`` row."""
        self.model.train()
        state, self.partial = (self.partial or EpochState()), None
        start = state.steps
        loader = self._loader(epoch)
        task = progress.add_task("train", total=self.steps_per_epoch, completed=start,
                                 epoch=f"{epoch + 1}/{self.cfg.epochs}", loss=state.loss_sum / max(1, state.seen),
                                 monitor="", speed="")
        t0 = time.perf_counter()
        seen_here = 0
        for i, batch in enumerate(loader):
            if i >= self.steps_per_epoch:
                break
            if i < start:
                continue  # replayed: the loader draws the same batches and augmentations as before
            self._set_lr(epoch * self.steps_per_epoch + i)
            x = batch["image"].to(self.device, non_blocking=True)
            y = batch["label"].to(self.device, non_blocking=True).long()
            micro = list(zip(x.chunk(self.cfg.accumulate), y.chunk(self.cfg.accumulate)))
            out = self.engine.step(micro, self.loss_fn)
            state.steps = i + 1
            state.passes += out.passes
            if out.skipped or not math.isfinite(out.loss):
                self._nonfinite(epoch, i, out.loss, state)
            else:
                state.loss_sum += out.loss * len(y)
                state.seen += len(y)
                if out.logits is not None:
                    state.probs.append(torch.softmax(out.logits.float(), dim=1).cpu())
                    state.labels.append(y.cpu())
                for k, v in out.diagnostics.items():
                    state.diag.setdefault(k, []).append(float(v))
            seen_here += len(y)
            rate = seen_here / max(1e-9, time.perf_counter() - t0)
            progress.update(task, advance=1, loss=state.loss_sum / max(1, state.seen), speed=f"{rate:.0f} img/s")
            if self.after_step is not None:
                self.after_step(epoch, i + 1)
            if self.stop.requested and state.steps < self.steps_per_epoch:
                state.seconds += time.perf_counter() - t0
                self._save_last(partial=state)
                raise self._interrupted(f"checkpoint saved at epoch {epoch + 1}, step {state.steps}")
        state.seconds += time.perf_counter() - t0
        if state.skipped and state.skipped >= state.steps:
            raise NonFiniteLoss(f"every step of epoch {epoch + 1} had a non-finite loss; the run stopped. The last "
                                f"good checkpoint is {self.run.path / 'checkpoints' / 'last.pt'}")
        row = self._end_epoch(epoch, state)
        shown = row.get(f"val_{self.cfg.monitor}")
        progress.update(task, monitor=f"val {self.cfg.monitor} {shown:.4f}" if isinstance(shown, float) else "")
        if self.stop.requested and self.epoch < self.cfg.epochs:
            raise self._interrupted(f"checkpoint saved at the end of epoch {self.epoch}")
        return row

    def _nonfinite(self, epoch: int, i: int, loss: float, state: EpochState) -> None:
        where = f"epoch {epoch + 1}, step {i + 1}"
        self.run.event("nonfinite", epoch=epoch + 1, step=i + 1, loss=str(loss), action=self.cfg.on_nonfinite)
        if self.cfg.on_nonfinite == "stop":
            last = self.run.path / "checkpoints" / "last.pt"
            log.error("non-finite loss (%s) at %s; stopping", loss, where)
            raise NonFiniteLoss(f"non-finite loss ({loss}) at {where}; the run stopped. The last good checkpoint is "
                                f"{last} (end of epoch {self.epoch}). Lower optimizer.lr, set train.clip_grad_norm, or "
                                f"set train.on_nonfinite = \"skip\" to skip such steps")
        state.skipped += 1
        log.warning("non-finite loss (%s) at %s; step skipped (%d this epoch)", loss, where, state.skipped)

    def _end_epoch(self, epoch: int, state: EpochState) -> dict[str, Any]:
        train_metrics: dict[str, float] = {"loss": state.loss_sum / state.seen if state.seen else math.nan}
        if state.probs:
            train_metrics |= self._score(torch.cat(state.labels).numpy(), torch.cat(state.probs).double().numpy())
        val = self.evaluate("val") if len(self.dm.labels("val")) else {}
        self.total_passes += state.passes
        row: dict[str, Any] = {"epoch": epoch + 1, "seconds": round(state.seconds, 3),
                               "lr": self.optimizer.param_groups[0]["lr"], "skipped_steps": state.skipped,
                               "passes_per_step": state.passes / max(1, state.steps)}
        row |= {f"train_{k}": v for k, v in train_metrics.items()}
        row |= {f"val_{k}": v for k, v in val.items()}
        row |= {f"diag_{k}": v for k, v in summarize_steps(state.diag).items()}
        value = val.get(self.cfg.monitor, train_metrics.get(self.cfg.monitor))
        self.epoch = epoch + 1
        if self._improved(value):
            self.best = {"epoch": epoch + 1, "value": value}
            self.best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
            save_checkpoint(self.run.checkpoints / "best.pt", {
                "epoch": epoch + 1, "monitor": self.cfg.monitor, "value": value, "model": self.best_state,
                "recipe_digest": recipe_digest(self.recipe), "classes": list(self.dm.class_names)})
        self.history.append(row)
        p = self.cfg.patience
        self.stopped_early = p is not None and self.epoch - int(self.best["epoch"]) >= p
        self._save_last()
        self.run.append_metrics(row)
        self.run.event("epoch", **row)
        log.info("epoch %d: %s", epoch + 1, ", ".join(f"{k}={v:.4g}" for k, v in row.items() if isinstance(v, float)))
        if self.stopped_early:
            log.info("early stop after epoch %d (no %s gain for %d epochs)", self.epoch, self.cfg.monitor, p)
        return row

    def _improved(self, value: float | None) -> bool:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return self.best["epoch"] is None
        if self.best["value"] is None:
            return True
        return value < self.best["value"] if lower_is_better(self.cfg.monitor) else value > self.best["value"]

    def _score(self, labels: np.ndarray, probs: np.ndarray) -> dict[str, float]:
        ev = self.recipe.eval
        return compute_metrics(labels, probs, self.dm.class_names, positive_class=ev.positive_class,
                               calibration_bins=ev.calibration_bins)

    def predict(self, split: Split) -> Predictions:
        """Predictions of the current model on ``split`` (no augmentation)."""
        return predict(self.model, self.dm.dataset(split, train_transforms=False), device=self.device,
                       batch_size=self.cfg.batch_size, precision=self.cfg.precision, num_workers=self.cfg.num_workers,
                       loss_fn=self.loss_fn)

    def evaluate(self, split: Split) -> dict[str, float]:
        pred = self.predict(split)
        return {"loss": pred.loss} | self._score(pred.labels, pred.probs)

    # -- checkpoints ------------------------------------------------------------------------------
    def _save_last(self, partial: EpochState | None = None) -> None:
        save_checkpoint(self.run.checkpoints / "last.pt", {
            "recipe_digest": recipe_digest(self.recipe),
            "classes": list(self.dm.class_names),
            "position": {"epoch": self.epoch, "step": partial.steps if partial else 0,
                         "partial": partial.to_plain() if partial else None},
            "model": self.model.state_dict(),
            "engine": self.engine.state_dict(),
            "trainer": {"best": dict(self.best), "history": self.history, "stopped_early": self.stopped_early,
                        "elapsed": self._elapsed_now(), "total_passes": self.total_passes, "sessions": self.sessions},
            "rng": rng_state(),
        })

    def _elapsed_now(self) -> float:
        """Wall time of all sessions so far (this one counted from the start of its first epoch)."""
        start = getattr(self, "_session_start", None)
        return self.elapsed + (time.perf_counter() - start if start is not None else 0.0)

    def _restore(self) -> None:
        path = self.run.path / "checkpoints" / "last.pt"
        ck = load_checkpoint(path, map_location=self.device)
        if ck.get("recipe_digest") != recipe_digest(self.recipe):
            raise RunError(f"checkpoint {path} was written for another recipe than {self.run.path / 'resolved.toml'}; "
                           "it cannot be resumed with this one")
        try:
            self.model.load_state_dict(ck["model"])
            self.engine.load_state_dict(ck["engine"])
            pos, tr = ck["position"], ck["trainer"]
            self.epoch = int(pos["epoch"])
            self.partial = EpochState.from_plain(pos["partial"]) if pos.get("partial") else None
            self.best = dict(tr["best"])
            self.history = list(tr["history"])
            self.stopped_early = bool(tr["stopped_early"])
            self.elapsed = float(tr["elapsed"])
            self.total_passes = int(tr["total_passes"])
            self.sessions = int(tr["sessions"]) + 1
        except (KeyError, TypeError, RuntimeError, ValueError) as exc:
            raise RunError(f"checkpoint {path} does not fit this run ({type(exc).__name__}: {exc})") from None
        best = self.run.path / "checkpoints" / "best.pt"
        if self.best["epoch"] is not None and best.is_file():
            bk = load_checkpoint(best, map_location=self.device)
            if bk.get("epoch") != self.best["epoch"]:
                log.warning("%s is from epoch %s but last.pt names epoch %s as best; the replayed epochs will "
                            "rewrite it", best, bk.get("epoch"), self.best["epoch"])
            self.best_state = bk["model"]
        self.run.rewrite_metrics(self.history)
        self._check_threads()
        set_rng_state(ck["rng"])

    def _check_threads(self) -> None:
        """Bit-exact resumption on a CPU needs the thread count of the first session."""
        try:
            before = self.run.read_json("environment.json")["determinism"]["torch_num_threads"]
        except (OSError, KeyError, TypeError, ValueError):
            return
        if before != torch.get_num_threads():
            log.warning("this session uses %d torch threads, the run started with %s: the result may differ from an "
                        "uninterrupted run in the last bits (set OMP_NUM_THREADS=%s for an exact replay)",
                        torch.get_num_threads(), before, before)

    def _interrupted(self, what: str) -> TrainingInterrupted:
        last = self.run.path / "checkpoints" / "last.pt"
        self.run.event("interrupted", epoch=self.epoch, detail=what)
        log.warning("interrupted; %s (%s)", what, last)
        return TrainingInterrupted(f"interrupted; {what} ({last}). Continue with: sharpreg resume {self.run.path}")

    def _write_environment(self) -> None:
        self.run.write_environment(self.recipe, {
            "device": str(self.device),
            "device_name": torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else None,
            "determinism": self.determinism, "torch_cuda": torch.version.cuda,
            "num_workers": self.cfg.num_workers, "precision": self.cfg.precision})

    # -- the end --------------------------------------------------------------------------------
    def finish(self) -> dict[str, Any]:
        """Best model on the test set (with bootstrap intervals), the gap, predictions, weights, plots."""
        t0 = time.perf_counter()
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        ev = self.recipe.eval
        test: dict[str, float] = {}
        intervals: dict[str, list[float | None]] = {}
        gap: dict[str, float] = {}
        train_eval: dict[str, float] = {}
        n_test = len(self.dm.labels("test"))
        if n_test:
            pred = self.predict("test")
            test = {"loss": pred.loss} | self._score(pred.labels, pred.probs)
            write_predictions(self.run.path / "predictions" / "test.csv", pred, self.dm.class_names)
            intervals = bootstrap_intervals(pred.labels, pred.probs, self.dm.class_names, resamples=ev.bootstrap,
                                            confidence=ev.confidence, seed=ev.bootstrap_seed,
                                            positive_class=ev.positive_class, calibration_bins=ev.calibration_bins)
            train_eval = self.evaluate("train")
            gap = generalization_gap(train_eval, test)
        save_safetensors(self.run.path / "model.safetensors", self.model, {
            "recipe": self.recipe.name, "classes": json.dumps(self.dm.class_names),
            "in_chans": str(self.dm.in_chans), "image_size": str(self.dm.image_size),
            "model": json.dumps(self.recipe.resolved()["model"]), "best_epoch": str(self.best["epoch"])})
        diag_cols = sorted({k for row in self.history for k in row if k.startswith("diag_")})
        sharp = {k[5:]: {"last": self.history[-1].get(k), "mean": nanmean([r.get(k) for r in self.history])}
                 for k in diag_cols} if self.history else {}
        steps = self.engine.step_count
        summary = {
            "recipe": self.recipe.name,
            "run": str(self.run.path),
            "status": "complete",
            "epochs_run": self.epoch,
            "epochs_planned": self.cfg.epochs,
            "stopped_early": self.stopped_early,
            "best_epoch": self.best["epoch"],
            "monitor": self.cfg.monitor,
            "best_val": self.best["value"],
            "test": finite_or_none(test),
            "test_ci": intervals,
            "ci": {"method": "percentile bootstrap over test cases", "resamples": ev.bootstrap,
                   "confidence": ev.confidence, "seed": ev.bootstrap_seed},
            "test_n": n_test,
            "train_eval": finite_or_none(train_eval),
            "generalization_gap": gap,
            "train_final": finite_or_none({k[6:]: v for k, v in self.history[-1].items() if k.startswith("train_")})
            if self.history else {},
            "sharpness": sharp,
            "seconds": round(self.elapsed + time.perf_counter() - t0, 2),
            "train_seconds": round(sum(r["seconds"] for r in self.history), 2),
            "sessions": self.sessions,
            "steps": steps,
            "skipped_steps": self.engine.skipped_steps,
            "passes_per_step": round(self.total_passes / steps, 4) if steps else None,
            "rule": self.recipe.sharpness.name,
            "optimizer": self.recipe.optimizer.name,
            "model": self.recipe.model.name,
            "arch": getattr(self.recipe.model.params, "arch", None),
            "dataset": self.recipe.data.name,
            "classes": self.dm.class_names,
            "positive_class": self.recipe.eval.positive_class,
            "seed": self.cfg.seed,
            "device": str(self.device),
        }
        self.run.write_json("summary.json", summary)
        self.run.event("finish", seconds=summary["seconds"])
        self._plots()
        print_summary(self.console, summary, self.run.path)
        return summary

    def _plots(self) -> None:
        from ..reporting import draw_run_plots

        try:
            draw_run_plots(self.run.path)
        except Exception as exc:  # a plot must never lose a finished run
            log.warning("could not draw the plots: %s: %s (retry with `sharpreg report %s`)", type(exc).__name__, exc,
                        self.run.path)

