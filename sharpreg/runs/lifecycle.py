"""A run folder's life: where it stands (:class:`RunState`), how it is created, locked, given up after a
mistake, and started over. Every folder a run can leave behind is taken by ``sharpreg run --out`` (nothing
of a run in it yet) or by ``sharpreg resume`` (anything else that has not finished).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal, Self

from ..errors import RunError
from .lock import LOCK_FILE, Holder, RunLock, holder

if TYPE_CHECKING:
    from ..recipe import Recipe

Checkpoint = Literal["last", "best"]

class RunState(StrEnum):
    """Where a run folder stands. ``run --out`` takes an absent one; ``resume`` takes partial and
    resumable ones; a running one is left to its writer."""

    ABSENT = "absent"
    """no folder, an empty one, or one stopped before it held its recipe"""
    PARTIAL = "partial"
    """stopped before its first checkpoint (``resume`` starts it over)"""
    RESUMABLE = "resumable"
    """interrupted with a checkpoint to resume from"""
    DONE = "done"
    """finished (``summary.json`` exists)"""
    RUNNING = "running"
    """a live process writes it (it holds the folder's lock)"""


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.")[:60].strip("-.") or "run"


def _is_leftover(name: str) -> bool:
    """Files a run leaves before it holds its recipe: the lock and half-written temporary files."""
    return name == LOCK_FILE or name.endswith(".tmp")


class RunLifecycle:
    """The part of :class:`~sharpreg.runs.RunFolder` that creates, locks, discards and resets the folder."""

    RESOLVED: ClassVar[str]
    SUMMARY: ClassVar[str]
    METRICS: ClassVar[str]
    MODEL: ClassVar[str]
    SHARPNESS: ClassVar[str]
    PREDICTIONS: ClassVar[str]
    CHECKPOINTS: ClassVar[str]
    PLOTS: ClassVar[str]

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = RunLock(self.path)
        self._created = False

    @property
    def resolved_file(self) -> Path:
        return self.path / self.RESOLVED

    def checkpoint_file(self, which: Checkpoint) -> Path:
        return self.path / self.CHECKPOINTS / f"{which}.pt"

    def write_recipe(self, recipe: Recipe) -> None:
        raise NotImplementedError

    # -- creation ---------------------------------------------------------------------------------
    @classmethod
    def create(cls, recipe: Recipe, *, out: Path | None = None, root: Path = Path("runs"),
               command: str = "run") -> Self:
        """A new folder ``root/<time>-<name>`` (or exactly ``out``, which must be absent, empty, or left by a
        run stopped before it held its recipe), locked by this process for ``command``."""
        run = cls(Path(out)) if out is not None else cls._new(root, recipe.name)
        if out is not None:
            run._check_free()
            try:
                run._created = not run.path.exists()
                run.path.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise RunError(f"cannot create the run folder {run.path}: {exc.strerror or exc}") from None
        run.acquire(command)
        try:
            run._check_free()  # again, now that no one else can write it
        except BaseException:
            run.release()
            raise
        try:
            for name in [p.name for p in run.path.iterdir() if p.name != LOCK_FILE]:
                (run.path / name).unlink()  # leftovers of a run killed before it wrote its recipe
            run.write_recipe(recipe)
            run.check_writable()
        except BaseException:
            run.discard()
            raise
        return run

    @classmethod
    def _new(cls, root: Path, name: str) -> Self:
        """A folder ``root/<time>-<name>`` (``-2``, ``-3``... when taken), made by this process."""
        base = root / f"{datetime.now().strftime('%Y%m%d-%H%M%S')}-{_slug(name)}"
        if root.exists() and not root.is_dir():
            raise RunError(f"{root} is a file, not a folder; give --runs-dir a folder path")
        for n in range(1, 1000):
            path = base if n == 1 else base.with_name(f"{base.name}-{n}")
            try:
                root.mkdir(parents=True, exist_ok=True)
                path.mkdir()
            except FileExistsError:
                continue
            except OSError as exc:
                raise RunError(f"cannot create the run folder {path}: {exc.strerror or exc}; choose another "
                               "--runs-dir") from None
            run = cls(path)
            run._created = True
            return run
        raise RunError(f"{root} already holds 999 runs named {base.name}; choose another --runs-dir")

    def _check_free(self) -> None:
        """Refuse a path that is a file or a folder holding anything but a stopped run's leftovers."""
        if self.path.exists() and not self.path.is_dir():
            raise RunError(f"{self.path} is a file, not a folder; give --out a folder path")
        state = self.state()
        if state is RunState.ABSENT:
            return
        if state is RunState.RUNNING:
            raise RunError(f"{self.path} is in use by {self.holder()}; choose another --out")
        if self.resolved_file.is_file():
            raise RunError(f"run folder {self.path} already exists; continue it with `sharpreg resume {self.path}` "
                           "or choose another --out")
        raise RunError(f"{self.path} is not empty and is not a run folder; choose a new or empty folder for --out")

    @classmethod
    def open(cls, path: Path) -> Self:
        """An existing run folder (one with a resolved recipe), else a ``RunError``."""
        run = cls(Path(path))
        if not run.resolved_file.is_file():
            if run.path.is_dir() and any(run.path.iterdir()) and run.state() is RunState.ABSENT:
                raise RunError(f"{run.path} was stopped before it held its recipe; start it with "
                               f"`sharpreg run RECIPE --out {run.path}`")
            raise RunError(f"{run.path} is not a sharpreg run folder (no {cls.RESOLVED} there)")
        return run

    def state(self) -> RunState:
        if not self.path.is_dir():
            return RunState.ABSENT
        if not self._lock.held and holder(self.path) is not None:
            return RunState.RUNNING
        if (self.path / self.SUMMARY).is_file():
            return RunState.DONE
        if not self.resolved_file.is_file():
            return RunState.ABSENT if all(_is_leftover(p.name) for p in self.path.iterdir()) else RunState.PARTIAL
        return RunState.RESUMABLE if self.checkpoint_file("last").is_file() else RunState.PARTIAL

    # -- one writer at a time -------------------------------------------------------------------------
    def acquire(self, command: str) -> None:
        """Lock the folder for this process (``command`` names it to others); a ``RunError`` names the
        process that holds it. The lock ends with :meth:`release` or with the process."""
        self._lock.acquire(command)

    def release(self) -> None:
        self._lock.release()

    @contextmanager
    def locked(self, command: str) -> Iterator[Self]:
        """The folder locked for the block (left as it was when this object already held it)."""
        mine = not self._lock.held
        self.acquire(command)
        try:
            yield self
        finally:
            if mine:
                self.release()

    def holder(self) -> Holder | None:
        """The process that writes the folder now (None when none does)."""
        return holder(self.path)

    def discard(self) -> None:
        """Undo :meth:`create` after a mistake found before the first checkpoint: remove the folder when
        this process made it, else empty it again (a user's own empty ``--out`` folder stays)."""
        if self._created:
            shutil.rmtree(self.path, ignore_errors=True)
        elif self.path.is_dir():
            for p in self.path.iterdir():
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() and not p.is_symlink() else p.unlink(missing_ok=True)
        self.release()

    def reset(self) -> None:
        """Remove what training produced (checkpoints, metrics, weights, plots, predictions), keeping the
        recipe, log and events: ``resume`` of a run without a checkpoint starts it over."""
        for name in (self.CHECKPOINTS, self.PLOTS, self.PREDICTIONS.split("/")[0]):
            shutil.rmtree(self.path / name, ignore_errors=True)
        for name in (self.METRICS, self.MODEL, self.SHARPNESS):
            (self.path / name).unlink(missing_ok=True)
        self.check_writable()

    def check_writable(self) -> None:
        """A read-only or full disk is reported before anything is trained."""
        probe = self.path / ".write-test"
        try:
            (self.path / self.CHECKPOINTS).mkdir(parents=True, exist_ok=True)
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            raise RunError(f"cannot write to the run folder {self.path}: {exc.strerror or exc}") from None

    def check_space(self, need: int) -> None:
        """At least ``need`` bytes free where the run folder is."""
        free = shutil.disk_usage(self.path).free
        if free < need:
            raise RunError(f"only {free / 2**20:.0f} MiB free under {self.path}; checkpoints need about "
                           f"{need / 2**20:.0f} MiB. Free some space or choose another --runs-dir")

