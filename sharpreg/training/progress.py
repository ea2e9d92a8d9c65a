"""What a training run shows while it runs: a progress bar per epoch (loss, monitor, images per second)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)


class EpochProgress:
    """A rich progress bar per epoch (nothing when disabled)."""

    def __init__(self, console: Console, enabled: bool) -> None:
        self.bar = Progress(
            TextColumn("[bold]epoch {task.fields[epoch]}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]:.4f}  {task.fields[monitor]}  {task.fields[speed]}"),
            TimeElapsedColumn(), TimeRemainingColumn(), console=console, disable=not enabled, transient=False,
        )
        self.task: TaskID | None = None

    def __enter__(self) -> EpochProgress:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(*exc)  # type: ignore[arg-type]

    def start_epoch(self, label: str, steps: int, done: int, loss: float) -> None:
        self.task = self.bar.add_task("train", total=steps, completed=done, epoch=label, loss=loss, monitor="", speed="")

    def step(self, loss: float, images_per_second: float) -> None:
        assert self.task is not None
        self.bar.update(self.task, advance=1, loss=loss, speed=f"{images_per_second:.0f} img/s")

    def end_epoch(self, monitor: str, value: object) -> None:
        assert self.task is not None
        self.bar.update(self.task, monitor=f"val {monitor} {value:.4f}" if isinstance(value, float) else "")
