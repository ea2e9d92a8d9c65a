"""What a training run shows while it runs: on a terminal, a rich progress bar per epoch; when the output
is a file or a pipe (CI, Slurm, nohup), one plain line every few seconds and one at the end of each epoch.
Both show the epoch, step, loss, images per second and the time left."""

from __future__ import annotations

import time
from typing import Protocol

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)

from .estimate import clock

#: seconds between two plain progress lines
PLAIN_EVERY = 10.0


class EpochProgress(Protocol):
    def __enter__(self) -> EpochProgress: ...
    def __exit__(self, *exc: object) -> None: ...
    def start_epoch(self, label: str, steps: int, done: int, loss: float) -> None: ...
    def step(self, loss: float, images_per_second: float, left: float | None) -> None: ...
    def end_epoch(self, monitor: str, value: object, seconds: float, left: float | None) -> None: ...


def epoch_progress(console: Console, enabled: bool, every: float = PLAIN_EVERY) -> EpochProgress:
    """The rich bar on a terminal, plain lines otherwise (nothing when not ``enabled``)."""
    if enabled and not console.is_terminal:
        return LineProgress(console, every)
    return BarProgress(console, enabled)


def _left(left: float | None) -> str:
    return f"run left {clock(left)}" if left is not None else ""


class BarProgress:
    """A rich progress bar per epoch (nothing when disabled)."""

    def __init__(self, console: Console, enabled: bool) -> None:
        self.bar = Progress(
            TextColumn("[bold]epoch {task.fields[epoch]}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]:.4f}  {task.fields[monitor]}  {task.fields[speed]}  {task.fields[left]}"),
            TimeElapsedColumn(), TimeRemainingColumn(), console=console, disable=not enabled, transient=False,
        )
        self.task: TaskID | None = None

    def __enter__(self) -> BarProgress:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(*exc)  # type: ignore[arg-type]

    def start_epoch(self, label: str, steps: int, done: int, loss: float) -> None:
        self.task = self.bar.add_task("train", total=steps, completed=done, epoch=label, loss=loss, monitor="",
                                      speed="", left="")

    def step(self, loss: float, images_per_second: float, left: float | None) -> None:
        assert self.task is not None
        self.bar.update(self.task, advance=1, loss=loss, speed=f"{images_per_second:.0f} img/s", left=_left(left))

    def end_epoch(self, monitor: str, value: object, seconds: float, left: float | None) -> None:
        assert self.task is not None
        self.bar.update(self.task, monitor=f"val {monitor} {value:.4f}" if isinstance(value, float) else "",
                        left=_left(left))


class LineProgress:
    """One plain line every ``every`` seconds while an epoch runs, and one when it ends."""

    def __init__(self, console: Console, every: float) -> None:
        self.console, self.every = console, every
        self.label, self.steps, self.done, self.loss = "", 0, 0, 0.0
        self.last = 0.0

    def __enter__(self) -> LineProgress:
        self.last = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def _print(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def start_epoch(self, label: str, steps: int, done: int, loss: float) -> None:
        self.label, self.steps, self.done, self.loss = label, steps, done, loss

    def step(self, loss: float, images_per_second: float, left: float | None) -> None:
        self.done, self.loss = self.done + 1, loss
        now = time.monotonic()
        if now - self.last < self.every:
            return
        self.last = now
        self._print("  ".join(x for x in (f"epoch {self.label}", f"step {self.done}/{self.steps}", f"loss {loss:.4f}",
                                          f"{images_per_second:.1f} img/s", _left(left)) if x))

    def end_epoch(self, monitor: str, value: object, seconds: float, left: float | None) -> None:
        val = f"val {monitor} {value:.4f}" if isinstance(value, float) else ""
        self._print("  ".join(x for x in (f"epoch {self.label} done in {seconds:.1f} s", f"loss {self.loss:.4f}", val,
                                          _left(left)) if x))
        self.last = time.monotonic()
