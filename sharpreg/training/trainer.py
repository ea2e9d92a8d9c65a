"""The training loop: epochs of engine steps with validation, model selection, early stopping and
checkpoints that resume exactly. What it builds (``parts.py``), what it checkpoints (``state.py``) and
what it leaves at the end (``finish.py``) live beside it; the run folder is the run store's."""

from __future__ import annotations

import dataclasses
import logging
import math
import shlex
import time
from collections.abc import Callable
from typing import Any

import torch
from rich.console import Console

from ..build import build_callbacks
from ..console import make_console
from ..data.module import SPLITS, Split
from ..distributed import SINGLE, Replicas, any_rank, gather
from ..errors import Interrupted, RunError, SharpregError
from ..recipe import Recipe
from ..runs import Predictions, RunFolder, Summary
from .callbacks import Callbacks
from .diagnostics import summarize_steps
from .estimate import Estimate, Pace
from .finish import finish
from .interrupt import StopFlag, graceful_interrupt, stop_signals_interrupt
from .parts import TrainingParts, build_parts
from .plan import make_plan, run_workload
from .probe import first_step_problem
from .progress import PLAIN_EVERY, EpochProgress, epoch_progress
from .state import EpochState, TrainingState, restore, save_best, save_last

log = logging.getLogger("sharpreg")


class TrainingInterrupted(Interrupted):
    """Stopped by Ctrl-C or SIGTERM; a checkpoint was saved (exit code 130)."""


class NonFiniteLoss(RunError):
    """A non-finite loss with ``train.on_nonfinite = "stop"``."""


class Trainer:
    """Trains ``recipe`` into ``run``. ``fit()`` returns the summary written to the run folder.

    ``resume=True`` continues from the run's last checkpoint. ``before_training(parts)`` is called once the
    run is built, before anything is written or trained (``sharpreg run`` checks the recipe's lock there).
    ``after_step(epoch, step)`` is called after every optimizer step (tests use it to interrupt a run at a
    chosen point). ``progress_every``: seconds between plain progress lines when the console is not a
    terminal. ``replicas``: this process among the processes of a torchrun run (each trains its part of
    every batch; rank 0 alone writes, through ``run``, and shows the plan and progress)."""

    def __init__(self, recipe: Recipe, run: RunFolder, *, console: Console | None = None, progress: bool = True,
                 resume: bool = False, progress_every: float = PLAIN_EVERY, replicas: Replicas = SINGLE) -> None:
        self.recipe = recipe
        self.run = run
        self.replicas = replicas
        self.console = console or make_console(stderr=True)
        self.show_progress = progress and replicas.main
        self.progress_every = progress_every
        self.resuming = resume
        self.cfg = recipe.train
        self.state = TrainingState()
        self.stop = StopFlag()
        self.before_training: Callable[[TrainingParts], None] | None = None
        self.after_step: Callable[[int, int], None] | None = None
        self._parts: TrainingParts | None = None
        self.pace: Pace | None = None
        self._gpu_noted = False

    @property
    def parts(self) -> TrainingParts:
        """What the recipe builds (after :meth:`setup`)."""
        if self._parts is None:
            raise RuntimeError("call setup() first")
        return self._parts

    @property
    def steps_per_epoch(self) -> int:
        return self.parts.steps_per_epoch

    def setup(self) -> None:
        """Device, seeds, data, model, optimizer, rule and engine (once)."""
        if self._parts is None:
            self._parts = build_parts(self.recipe, self.replicas)

    # -- the run --------------------------------------------------------------------------------------
    def fit(self) -> Summary:
        with self.run.locked("train"):
            return self._fit()

    def _fit(self) -> Summary:
        handler = self.run.attach_log()
        callbacks: Callbacks | None = None
        try:
            try:
                with stop_signals_interrupt():  # nothing to save yet: SIGTERM stops as Ctrl-C does
                    started = time.perf_counter()
                    self.setup()
                    if self.before_training is not None:
                        self.before_training(self.parts)
                    self.run.check_writable()
                    self.run.check_space(self.parts.checkpoint_bytes())
                    self._begin()  # a mistake found up to here is one line, with no plan before it
                    self._say(f"{'resuming' if self.resuming else 'starting'} {self.recipe.name} in {self.run.path}")
                    self._plan(started)
            except KeyboardInterrupt:
                if not self.run.checkpoint_file("last").exists():
                    raise  # nothing kept: `sharpreg run` removes the folder and says how to start again
                raise self._interrupted(f"before training {'resumed' if self.resuming else 'began'}; the last "
                                        "checkpoint is kept") from None
            callbacks = Callbacks(build_callbacks(self.recipe, self.run.path) if self.replicas.main else [], self.run.path)
            callbacks.on_start(self.recipe.resolved())
            self._epochs(callbacks)
            try:
                with stop_signals_interrupt():
                    return finish(self.run, self.recipe, self.parts, self.state, self.console, self.evaluate)
            except KeyboardInterrupt:
                raise self._interrupted("during the final test evaluation, after the last epoch") from None
        finally:
            if self._parts is not None:
                self._parts.close()
            if callbacks is not None:
                callbacks.on_end()
            logging.getLogger("sharpreg").removeHandler(handler)
            handler.close()

    def _say(self, text: str) -> None:
        if self.replicas.main:
            self.console.print(text, markup=False, highlight=False)

    def _plan(self, started: float) -> None:
        """Prepare the training data and show the plan (console, log.txt, events.jsonl)."""
        plan = make_plan(self.recipe, self.parts, started)
        lines = plan.lines()
        for line in lines:
            self._say(line)
        for line in lines[1:]:
            log.info("plan: %s", line.strip())
        self.run.event("plan", **plan.record())

    def _estimate(self, est: Estimate | None) -> None:
        """Show an estimate, and once per session whether the run is sized for a GPU."""
        if est is None:
            return
        self._say(f"  estimate  {est.line()}")
        log.info("estimate: %s", est.line())
        self.run.event("estimate", **est.record())
        if est.gpu_sized and not self._gpu_noted:
            self._gpu_noted = True
            note = f"{est.gpu_note()}. The run goes on: Ctrl-C stops it with a checkpoint, `sharpreg resume` continues"
            self._say(f"  note      {note}")
            log.warning("%s", note)

    def _begin(self) -> None:
        """A new run records its split and environment and checkpoints epoch 0 (so a run killed in its
        first epoch resumes too); a resumed one restores its last checkpoint."""
        parts, state = self.parts, self.state
        if self.resuming:
            self.state = state = restore(self.run, self.recipe, parts)
            if state.partial is not None and not self.replicas.main:
                state.partial.probs, state.partial.labels = [], []  # rank 0 holds the gathered ones
        else:
            problem = first_step_problem(self.recipe, num_classes=parts.dm.num_classes,
                                         train_images=len(parts.dm.labels("train")))
            if problem is not None:
                raise SharpregError(f"{'.'.join(problem.key)}: {problem.message}")
            self.run.write_split(parts.dm.split_record())
            self.run.write_environment(self.recipe, {
                **parts.placement.record(),
                "device_name": torch.cuda.get_device_name(parts.device) if parts.device.type == "cuda" else None,
                "determinism": parts.determinism, "torch_cuda": torch.version.cuda,
                "placement_notes": list(parts.placement.notes),
                "data": {"fingerprint": parts.dm.fingerprint, "images": sum(len(parts.dm.labels(s)) for s in SPLITS)},
                "world_size": self.replicas.world, "backend": self.replicas.backend,
                "channels_last": parts.channels_last, "augmentation_on_device": parts.deferred_augmentation})
            save_last(self.run, self.recipe, parts, state)
        step = state.partial.steps if state.partial else 0
        log.info("run %s: %s on %s%s", self.run.path, self.recipe.name, parts.device,
                 f" (resumed at epoch {state.epoch + 1}, step {step})" if self.resuming else "")
        self.run.event("resume" if self.resuming else "start", epoch=state.epoch, epochs=self.cfg.epochs, step=step,
                       session=state.sessions, **parts.placement.record())
        recipe = self.recipe  # not self: a trainer that refers to itself outlives fit() and keeps the folder's lock
        self.pace = Pace(lambda e, s: run_workload(recipe, parts, e, s), parts.device.type, state.epoch, step,
                         self.steps_per_epoch)

    def _epochs(self, callbacks: Callbacks) -> None:
        state = self.state
        start = state.session_start = time.perf_counter()
        try:
            with (graceful_interrupt(self.stop, self._notify),
                  epoch_progress(self.console, self.show_progress, self.progress_every) as bar):
                while state.epoch < self.cfg.epochs and not state.stopped_early:
                    row = self.train_epoch(state.epoch, bar)
                    callbacks.on_epoch_end(int(row["epoch"]), row)
        except KeyboardInterrupt:
            raise self._interrupted(f"during epoch {state.epoch + 1}; it continues from its last checkpoint") from None
        finally:
            state.elapsed += time.perf_counter() - start
            state.session_start = None

    def _notify(self, message: str) -> None:
        if self.replicas.main:
            self.console.print(message, style="yellow")

    # -- one epoch ------------------------------------------------------------------------------------
    def train_epoch(self, epoch: int, bar: EpochProgress) -> dict[str, Any]:
        """One epoch (or the rest of it after a mid-epoch resume); returns its ``metrics.csv`` row."""
        parts = self.parts
        parts.model.train()
        acc, self.state.partial = (self.state.partial or EpochState()), None
        start = acc.steps
        bar.start_epoch(f"{epoch + 1}/{self.cfg.epochs}", self.steps_per_epoch, start, acc.loss_sum / max(1, acc.seen))
        t0 = last = time.perf_counter()
        seen_here = 0
        # a resumed epoch starts at its next step: the batches and augmentations depend on (seed, epoch) only
        for i, batch in enumerate(parts.loader(self.cfg, epoch, start), start=start):
            images, passes = self._step(epoch, i, batch, acc)
            seen_here += images
            now = time.perf_counter()
            if self.pace is not None:
                self._estimate(self.pace.step_done(now - last, passes))
            last = now
            bar.step(acc.loss_sum / max(1, acc.seen), seen_here / max(1e-9, now - t0), self._left(epoch, i + 1))
            if self.after_step is not None:
                self.after_step(epoch, i + 1)
            if any_rank(self.stop.requested, self.replicas) and acc.steps < self.steps_per_epoch:
                acc.seconds += time.perf_counter() - t0
                save_last(self.run, self.recipe, parts, self.state, partial=self._gathered(acc))
                raise self._interrupted(f"at epoch {epoch + 1}, step {acc.steps} of {self.steps_per_epoch}; "
                                        "checkpoint saved")
        acc.seconds += time.perf_counter() - t0
        if not all(bool(torch.isfinite(p).all()) for p in parts.model.parameters()):
            raise NonFiniteLoss(f"the weights became non-finite in epoch {epoch + 1}; the run stopped. The last good "
                                f"checkpoint is {self.run.checkpoint_file('last')}. Lower optimizer.lr or set "
                                "train.clip_grad_norm")
        if acc.skipped and acc.skipped >= acc.steps:
            raise NonFiniteLoss(f"every step of epoch {epoch + 1} had a non-finite loss; the run stopped. The last "
                                f"good checkpoint is {self.run.checkpoint_file('last')}")
        t_val = time.perf_counter()
        row = self._end_epoch(epoch, acc)
        if self.pace is not None and start == 0:
            val_seconds = time.perf_counter() - t_val  # validation, model selection and checkpoints
            self._estimate(self.pace.epoch_done(epoch, acc.steps, acc.seconds, val_seconds, acc.passes / acc.steps))
        bar.end_epoch(self.cfg.monitor, row.get(f"val_{self.cfg.monitor}"), acc.seconds, self._left(epoch + 1, 0))
        if any_rank(self.stop.requested, self.replicas) and self.state.epoch < self.cfg.epochs:
            raise self._interrupted(f"at the end of epoch {self.state.epoch}; checkpoint saved")
        return row

    def _left(self, epoch: int, step: int) -> float | None:
        return self.pace.left(epoch, step) if self.pace is not None else None

    def _step(self, epoch: int, i: int, batch: dict[str, Any], acc: EpochState) -> tuple[int, int]:
        """One optimizer step on ``batch`` (this process's part of the step's images); returns the number
        of images the step held over all processes and the passes it ran."""
        out, total, mine = self.parts.train_step(self.cfg, epoch, i, batch)
        acc.steps = i + 1
        acc.passes += out.passes
        if out.skipped or not math.isfinite(out.loss):
            self._nonfinite(epoch, i, out.loss, acc)
            return total, out.passes
        acc.loss_sum += out.loss * total
        acc.seen += total
        if out.logits is not None and mine:
            acc.probs.append(torch.softmax(out.logits.float(), dim=1).cpu())
            acc.labels.append(batch["label"].long().cpu())
        for k, v in out.diagnostics.items():
            acc.diag.setdefault(k, []).append(float(v))
        return total, out.passes

    def _nonfinite(self, epoch: int, i: int, loss: float, acc: EpochState) -> None:
        where = f"epoch {epoch + 1}, step {i + 1}"
        self.run.event("nonfinite", epoch=epoch + 1, step=i + 1, loss=str(loss), action=self.cfg.on_nonfinite)
        if self.cfg.on_nonfinite == "stop":
            log.error("non-finite loss (%s) at %s; stopping", loss, where)
            raise NonFiniteLoss(f"non-finite loss ({loss}) at {where}; the run stopped. The last good checkpoint is "
                                f"{self.run.checkpoint_file('last')} (end of epoch {self.state.epoch}). Lower "
                                "optimizer.lr, set train.clip_grad_norm, or set train.on_nonfinite = \"skip\" to skip "
                                "such steps")
        acc.skipped += 1
        log.warning("non-finite loss (%s) at %s; step skipped (%d this epoch)", loss, where, acc.skipped)

    def _end_epoch(self, epoch: int, acc: EpochState) -> dict[str, Any]:
        """Validation, model selection, early stopping, the epoch's checkpoint and ``metrics.csv`` row."""
        parts, state, monitor = self.parts, self.state, self.cfg.monitor
        train_metrics: dict[str, float] = {"loss": acc.loss_sum / acc.seen if acc.seen else math.nan}
        whole = self._gathered(acc)
        if whole.probs:
            train_metrics |= parts.evaluator.metrics(torch.cat(whole.labels).numpy(), torch.cat(whole.probs).double().numpy())
        val = self.evaluate("val") if len(parts.dm.labels("val")) else {}
        state.total_passes += acc.passes
        row: dict[str, Any] = {"epoch": epoch + 1, "seconds": round(acc.seconds, 3),
                               "lr": parts.optimizer.param_groups[0]["lr"], "skipped_steps": acc.skipped,
                               "passes_per_step": acc.passes / max(1, acc.steps)}
        row |= {f"train_{k}": v for k, v in train_metrics.items()}
        row |= {f"val_{k}": v for k, v in val.items()}
        row |= {f"diag_{k}": v for k, v in summarize_steps(acc.diag).items()}
        value = val.get(monitor, train_metrics.get(monitor))
        state.epoch = epoch + 1
        if state.improved(value, monitor):
            state.best = {"epoch": epoch + 1, "value": value}
            save_best(self.run, self.recipe, parts, state, monitor)
        state.history.append(row)
        patience = self.cfg.patience
        state.stopped_early = patience is not None and state.epoch - int(state.best["epoch"]) >= patience
        save_last(self.run, self.recipe, parts, state)
        self.run.append_metrics(row)
        self.run.event("epoch", **row)
        log.info("epoch %d: %s", epoch + 1, ", ".join(f"{k}={v:.4g}" for k, v in row.items() if isinstance(v, float)))
        if state.stopped_early:
            log.info("early stop after epoch %d (no %s gain for %d epochs)", state.epoch, monitor, patience)
        return row

    def _gathered(self, acc: EpochState) -> EpochState:
        """``acc`` with the training predictions of every process (metrics and checkpoints need them all)."""
        if not self.replicas.active:
            return acc
        parts = gather((acc.probs, acc.labels), self.replicas)
        probs = [p for ps, _ in parts for p in ps]
        labels = [y for _, ys in parts for y in ys]
        return dataclasses.replace(acc, probs=probs, labels=labels)

    def predict(self, split: Split) -> Predictions:
        """Predictions of the current model on ``split`` (no augmentation)."""
        return self.parts.evaluator.predict(self.parts.dm.dataset(split, train_transforms=False))

    def evaluate(self, split: Split) -> dict[str, float]:
        return self.parts.evaluator.score(self.predict(split))

    def _interrupted(self, where: str) -> TrainingInterrupted:
        """One line: where the run stopped and the exact command that continues it."""
        self.run.event("interrupted", epoch=self.state.epoch, detail=where)
        log.warning("stopped %s (%s)", where, self.run.checkpoint_file("last"))
        return TrainingInterrupted(f"stopped {where}. Continue with: sharpreg resume {shlex.quote(str(self.run.path))}")
