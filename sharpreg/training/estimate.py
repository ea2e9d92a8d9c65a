"""How long a run takes, from its own measured steps: the time per step after a warm-up step, and what it
implies for an epoch and the whole run. A run reports it after its first steps and again after its first
full epoch (with the validation it measured); ``sharpreg run --plan`` and ``sharpreg sweep --plan`` time a
few steps without a run folder and use the same :class:`Estimate`."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass, replace

#: a run estimated to take longer than this on a CPU is "sized for a GPU" (the run says so)
GPU_SIZED_HOURS = 6.0
#: steps not timed: the first one pays for worker start-up, lazy initialization and kernel selection
WARMUP_STEPS = 1
#: steps timed after the warm-up (their median is the time per step)
TIMED_STEPS = 3
#: validation before it is measured: one forward pass per image, about a third of a forward + backward
#: pass (the backward pass costs about twice the forward)
FORWARD_SHARE = 1 / 3


def count(n: int, word: str, plural: str | None = None) -> str:
    """``1 epoch``, ``3 epochs``."""
    return f"{n} {word if n == 1 else plural or word + 's'}"


def duration(seconds: float) -> str:
    """``42 s``, ``3.5 min``, ``2.4 h``, ``3.1 days``."""
    if not math.isfinite(seconds):
        return "?"
    if seconds < 90:
        return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.1f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def clock(seconds: float) -> str:
    """``1:02:03`` (hours:minutes:seconds), for progress lines."""
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


@dataclass(frozen=True)
class Workload:
    """What is left to compute, in steps and validations."""

    steps_per_epoch: int
    steps_left: int
    """optimizer steps left (in this session, from where it starts)"""
    validations_left: int
    val_batches: int
    epochs_left: int
    epochs: int
    """epochs of the whole run"""
    early_stop: bool = False

    @classmethod
    def of_run(cls, epochs: int, steps_per_epoch: int, epoch: int, step: int, val_images: int, batch_size: int,
               early_stop: bool = False) -> Workload:
        """From step ``step`` of epoch ``epoch`` (both counted from 0) to the end of ``epochs`` epochs."""
        return cls(steps_per_epoch, max(0, (epochs - epoch) * steps_per_epoch - step), max(0, epochs - epoch),
                   math.ceil(val_images / batch_size) if val_images else 0, max(0, epochs - epoch), epochs, early_stop)

    def after(self, epochs_done: int) -> Workload:
        """The work left once ``epochs_done`` whole epochs of it are done."""
        done = min(epochs_done, self.epochs_left)
        return replace(self, steps_left=max(0, self.steps_left - done * self.steps_per_epoch),
                       validations_left=self.validations_left - done, epochs_left=self.epochs_left - done)


@dataclass(frozen=True)
class Estimate:
    """Time per step (measured), per epoch and for the work left (derived)."""

    seconds_per_step: float
    basis: str
    """what was measured, e.g. ``steps 2-4`` or ``epoch 1``"""
    work: Workload
    device_type: str
    passes_per_step: float = 1.0
    validation_seconds: float | None = None
    """measured validation time of one epoch; None: estimated from the step time"""

    @property
    def epoch_train_seconds(self) -> float:
        return self.seconds_per_step * self.work.steps_per_epoch

    @property
    def epoch_validation_seconds(self) -> float:
        if self.validation_seconds is not None:
            return self.validation_seconds
        return self.work.val_batches * self.seconds_per_step * FORWARD_SHARE / max(1.0, self.passes_per_step)

    @property
    def epoch_seconds(self) -> float:
        return self.epoch_train_seconds + self.epoch_validation_seconds

    @property
    def run_seconds(self) -> float:
        w = self.work
        return w.steps_left * self.seconds_per_step + w.validations_left * self.epoch_validation_seconds

    @property
    def gpu_sized(self) -> bool:
        """Sized for a GPU: longer than :data:`GPU_SIZED_HOURS` on a CPU."""
        return self.device_type == "cpu" and self.run_seconds > GPU_SIZED_HOURS * 3600

    def line(self) -> str:
        """One line: the measurement and what it implies."""
        w = self.work
        per = f"{self.seconds_per_step:.3g} s per step ({self.basis})"
        val = ("" if not w.val_batches else f" + {duration(self.epoch_validation_seconds)} validation"
               f"{'' if self.validation_seconds is not None else ' (estimated)'}")
        epochs = count(w.epochs_left, "epoch")
        whole = w.epochs_left == w.epochs and w.steps_left == w.epochs * w.steps_per_epoch
        run = f"about {duration(self.run_seconds)} for {epochs if whole else f'the {epochs} left'}"
        if w.early_stop:
            run += " (early stopping may end it sooner)"
        return f"{per}: {duration(self.epoch_train_seconds)} per epoch{val}; {run}"

    def gpu_note(self) -> str:
        return (f"this run is sized for a GPU: about {duration(self.run_seconds)} on this CPU (more than "
                f"{GPU_SIZED_HOURS:g} h). For a CPU, lower data.image_size or train.epochs, or choose a smaller "
                "model.arch")

    def record(self) -> dict[str, object]:
        return {"basis": self.basis, "seconds_per_step": round(self.seconds_per_step, 6),
                "passes_per_step": round(self.passes_per_step, 3), "steps_per_epoch": self.work.steps_per_epoch,
                "epoch_train_seconds": round(self.epoch_train_seconds, 3),
                "epoch_validation_seconds": round(self.epoch_validation_seconds, 3),
                "validation_measured": self.validation_seconds is not None,
                "run_seconds": round(self.run_seconds, 1), "epochs_left": self.work.epochs_left,
                "steps_left": self.work.steps_left, "gpu_sized": self.gpu_sized}


class StepTimer:
    """Times steps: the first ``WARMUP_STEPS`` are not counted (when there are more steps than that),
    the next ``timed`` are. ``add`` returns True once, when the last timed step is in."""

    def __init__(self, steps_available: int, timed: int = TIMED_STEPS) -> None:
        self.warmup = WARMUP_STEPS if steps_available > WARMUP_STEPS else 0
        self.timed = max(1, min(timed, steps_available - self.warmup))
        self.seen = 0
        self.times: list[float] = []
        self.passes: list[int] = []

    def add(self, seconds: float, passes: int = 1) -> bool:
        self.seen += 1
        if self.seen <= self.warmup or self.done:
            return False
        self.times.append(seconds)
        self.passes.append(passes)
        return self.done

    @property
    def done(self) -> bool:
        return len(self.times) >= self.timed

    def estimate(self, work: Workload, device_type: str, *, offset: int = 0) -> Estimate:
        """The median timed step; ``offset``: steps before this timer started (for the basis' numbers)."""
        first, last = offset + self.warmup + 1, offset + self.warmup + len(self.times)
        basis = f"step {first}" if first == last else f"median of steps {first}-{last}"
        return Estimate(statistics.median(self.times), basis, work, device_type,
                        passes_per_step=statistics.fmean(self.passes))


class Pace:
    """A session's pace: an estimate after its first timed steps (for the whole session), a better one
    after its first full epoch (steps and validation measured), and the time left from any point.
    ``work_at(epoch, step)`` is the work from step ``step`` of epoch ``epoch`` (both from 0) to the end of
    the run; the session starts at step ``step`` of epoch ``epoch``, which has ``steps_per_epoch`` steps."""

    def __init__(self, work_at: Callable[[int, int], Workload], device_type: str, epoch: int, step: int,
                 steps_per_epoch: int) -> None:
        self.work_at, self.device_type, self.start = work_at, device_type, (epoch, step)
        self.timer = StepTimer(steps_per_epoch - step)
        self.current: Estimate | None = None
        self.refined = False

    def step_done(self, seconds: float, passes: int) -> Estimate | None:
        """Record one step; the first estimate when it is ready."""
        if self.timer.add(seconds, passes):
            self.current = self.timer.estimate(self.work_at(*self.start), self.device_type, offset=self.start[1])
            return self.current
        return None

    def epoch_done(self, epoch: int, steps: int, train_seconds: float, validation_seconds: float,
                   passes_per_step: float) -> Estimate | None:
        """Record an epoch this session ran whole (``steps`` steps); the first such epoch gives an estimate."""
        if self.refined or steps <= 0:
            return None
        self.refined = True
        self.current = Estimate(train_seconds / steps, f"epoch {epoch + 1}", self.work_at(epoch + 1, 0),
                                self.device_type, passes_per_step, validation_seconds)
        return self.current

    def left(self, epoch: int, step: int) -> float | None:
        """Seconds left from step ``step`` of ``epoch`` (None before the first estimate)."""
        if self.current is None:
            return None
        return replace(self.current, work=self.work_at(epoch, step)).run_seconds
