"""The run store (DESIGN section 7): the only code that knows the names of a run folder's files.

Training, evaluation, reports, comparisons and sweeps read and write a run through :class:`RunFolder`.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import time
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import tomli_w
from pydantic import ValidationError

from ..errors import RunError
from ..recipe import Recipe, parse_override
from . import checkpoint, weights
from .environment import environment_record
from .evaluations import EvaluationFolder
from .files import MetricsTable, read_json, write_json, write_text
from .predictions import Predictions, read_predictions, write_predictions
from .summary import Summary

if TYPE_CHECKING:
    import torch

LOGGER = "sharpreg"
Checkpoint = Literal["last", "best"]
Weights = Literal["best", "last", "safetensors"]
PredictedSplit = Literal["test", "val"]


class RunState(StrEnum):
    ABSENT = "absent"
    """no folder, or an empty one"""
    PARTIAL = "partial"
    """stopped before its first checkpoint"""
    RESUMABLE = "resumable"
    """interrupted with a checkpoint to resume from"""
    DONE = "done"
    """finished (``summary.json`` exists)"""


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "run"


class RunFolder:
    """One run's folder: its recipe, environment, split, metrics, events, log, checkpoints, weights,
    predictions, summary, sharpness measurement, plots and evaluations on other data."""

    RECIPE = "recipe.toml"
    RESOLVED = "resolved.toml"
    OVERRIDES = "overrides.toml"
    ENVIRONMENT = "environment.json"
    SPLIT = "split.json"
    METRICS = "metrics.csv"
    EVENTS = "events.jsonl"
    LOG = "log.txt"
    SUMMARY = "summary.json"
    MODEL = "model.safetensors"
    MODEL_CARD = "MODEL_CARD.md"
    SHARPNESS = "sharpness.json"
    PREDICTIONS = "predictions/test.csv"
    VAL_PREDICTIONS = "predictions/val.csv"
    """the best epoch's model on the validation split (the threshold is chosen from these)"""
    CHECKPOINTS = "checkpoints"
    PLOTS = "plots"
    EVALUATIONS = "evaluations"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._metrics = MetricsTable(self.path / self.METRICS)

    # -- creation ---------------------------------------------------------------------------------
    @classmethod
    def create(cls, recipe: Recipe, *, out: Path | None = None, root: Path = Path("runs")) -> RunFolder:
        """A new folder ``root/<time>-<name>`` (or exactly ``out``); an existing one is never reused."""
        if out is not None:
            path = Path(out)
            if path.exists() and any(path.iterdir()):
                raise RunError(f"run folder {path} already exists and is not empty; resume it with "
                               f"`sharpreg resume {path}` or choose another --out")
        else:
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            base = root / f"{stamp}-{_slug(recipe.name)}"
            path, n = base, 1
            while path.exists():
                n += 1
                path = base.with_name(f"{base.name}-{n}")
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunError(f"cannot write the run folder {path}: {exc.strerror or exc}") from None
        run = cls(path)
        run.check_writable()
        run.write_recipe(recipe)
        return run

    @classmethod
    def open(cls, path: Path) -> RunFolder:
        """An existing run folder (one with a resolved recipe), else a ``RunError``."""
        run = cls(Path(path))
        if not run.resolved_file.is_file():
            raise RunError(f"{run.path} is not a sharpreg run folder (no {cls.RESOLVED} there)")
        return run

    def state(self) -> RunState:
        if (self.path / self.SUMMARY).is_file():
            return RunState.DONE
        if not self.path.exists() or not any(self.path.iterdir()):
            return RunState.ABSENT
        return RunState.RESUMABLE if self.checkpoint_file("last").is_file() else RunState.PARTIAL

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

    # -- the recipe and the record of what ran --------------------------------------------------------
    @property
    def resolved_file(self) -> Path:
        return self.path / self.RESOLVED

    def write_recipe(self, recipe: Recipe) -> None:
        if recipe.path is not None and recipe.path.is_file():
            write_text(self.path / self.RECIPE, recipe.path.read_text(encoding="utf-8"))
        write_text(self.resolved_file, tomli_w.dumps(recipe.pinned()))
        overrides: dict[str, Any] = {}
        for text in recipe.overrides:
            keys, value = parse_override(text)
            node = overrides
            for k in keys[:-1]:
                node = node.setdefault(k, {})
            node[keys[-1]] = value
        header = "# --set overrides given on the command line (empty when none)\n"
        write_text(self.path / self.OVERRIDES, header + tomli_w.dumps(overrides))

    def load_recipe(self) -> Recipe:
        """The resolved recipe the run was trained with."""
        from ..recipe import load_recipe

        return load_recipe(self.resolved_file)

    def write_environment(self, recipe: Recipe, extra: dict[str, Any]) -> None:
        write_json(self.path / self.ENVIRONMENT, environment_record(recipe.provenance(), extra))

    def read_environment(self) -> dict[str, Any] | None:
        env = read_json(self.path / self.ENVIRONMENT)
        return env if isinstance(env, dict) else None

    @property
    def split_file(self) -> Path:
        return self.path / self.SPLIT

    def write_split(self, record: dict[str, Any]) -> None:
        write_json(self.split_file, record)

    def read_split(self) -> dict[str, Any] | None:
        data = read_json(self.split_file)
        return data if isinstance(data, dict) else None

    # -- progress -------------------------------------------------------------------------------------
    def append_metrics(self, row: dict[str, Any]) -> None:
        """One row per epoch in ``metrics.csv`` (columns fixed by the first row)."""
        self._metrics.append(row)

    def rewrite_metrics(self, rows: list[dict[str, Any]]) -> None:
        """Replace ``metrics.csv`` by exactly ``rows`` (on resume: drop rows of epochs not checkpointed)."""
        self._metrics.rewrite(rows)

    def read_metrics(self) -> list[dict[str, Any]]:
        """The rows of ``metrics.csv`` with numbers parsed (empty cells are None)."""
        return self._metrics.read()

    def epochs_done(self) -> int:
        return self._metrics.count()

    def event(self, kind: str, **data: Any) -> None:
        with (self.path / self.EVENTS).open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({"time": time.time(), "event": kind, **data}, default=str) + "\n")

    def attach_log(self) -> logging.Handler:
        """Send the ``sharpreg`` logger to ``log.txt`` (returns the handler to detach later)."""
        handler = logging.FileHandler(self.path / self.LOG, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger = logging.getLogger(LOGGER)
        logger.setLevel(logging.INFO)
        logger.addHandler(handler)
        return handler

    # -- checkpoints and weights ------------------------------------------------------------------------
    def checkpoint_file(self, which: Checkpoint) -> Path:
        return self.path / self.CHECKPOINTS / f"{which}.pt"

    def save_checkpoint(self, which: Checkpoint, state: dict[str, Any]) -> None:
        checkpoint.save_checkpoint(self.checkpoint_file(which), state)

    def load_checkpoint(self, which: Checkpoint, map_location: Any = "cpu") -> dict[str, Any]:
        return checkpoint.load_checkpoint(self.checkpoint_file(which), map_location=map_location)

    @property
    def model_file(self) -> Path:
        return self.path / self.MODEL

    def save_model(self, model: torch.nn.Module, metadata: dict[str, str]) -> None:
        weights.save_safetensors(self.model_file, model, metadata)

    def load_weights(self, choice: Weights = "best") -> tuple[dict[str, Any], str]:
        """The trained weights and the file they came from. ``best``: ``model.safetensors``, else the
        best checkpoint (the same weights); ``last``: the last checkpoint; ``safetensors``: only that."""
        model, best = self.path / self.MODEL, self.checkpoint_file("best")
        if choice == "last":
            return self.load_checkpoint("last")["model"], f"{self.CHECKPOINTS}/last.pt"
        if model.is_file():
            return weights.load_safetensors(model), self.MODEL
        if choice == "best" and best.is_file():
            return self.load_checkpoint("best")["model"], f"{self.CHECKPOINTS}/best.pt"
        wanted = self.MODEL if choice == "safetensors" else f"neither {self.MODEL} nor {self.CHECKPOINTS}/best.pt"
        raise RunError(f"{self.path} has no trained weights ({wanted}); finish or resume the run first")

    def classes(self) -> list[str]:
        """The classes the run's model predicts, in output order."""
        summary = self.read_summary(missing_ok=True)
        if summary is not None and summary.classes:
            return list(summary.classes)
        for which in ("best", "last"):
            if self.checkpoint_file(which).is_file():  # type: ignore[arg-type]
                return list(self.load_checkpoint(which)["classes"])  # type: ignore[arg-type]
        raise RunError(f"{self.path} has no {self.SUMMARY} and no checkpoint: has it trained an epoch?")

    # -- results ----------------------------------------------------------------------------------------
    def write_summary(self, summary: Summary) -> None:
        write_json(self.path / self.SUMMARY, summary.model_dump())

    def read_summary(self, *, missing_ok: bool = False) -> Summary | None:
        """The run's summary; None (with ``missing_ok``) or a ``RunError`` when it has not finished."""
        file = self.path / self.SUMMARY
        data = read_json(file)
        if data is None:
            if missing_ok:
                return None
            hint = f"; resume it with `sharpreg resume {self.path}`" if self.state() is RunState.RESUMABLE else ""
            raise RunError(f"{self.path} has no {self.SUMMARY}: not a finished sharpreg run{hint}")
        try:
            return Summary.model_validate(data)
        except ValidationError as exc:
            raise RunError(f"{file} is not a sharpreg summary ({exc.error_count()} problems, first at "
                           f"{'.'.join(map(str, exc.errors()[0]['loc']))})") from None

    def predictions_file(self, split: PredictedSplit = "test") -> Path:
        return self.path / (self.PREDICTIONS if split == "test" else self.VAL_PREDICTIONS)

    def write_predictions(self, pred: Predictions, classes: list[str], split: PredictedSplit = "test") -> None:
        write_predictions(self.predictions_file(split), pred, classes)

    def read_predictions(self, split: PredictedSplit = "test") -> tuple[Predictions, list[str]] | None:
        file = self.predictions_file(split)
        return read_predictions(file) if file.is_file() else None

    def write_sharpness(self, result: dict[str, Any]) -> None:
        write_json(self.path / self.SHARPNESS, result)

    def read_sharpness(self) -> dict[str, Any] | None:
        try:
            data = read_json(self.path / self.SHARPNESS)
        except RunError:
            return None
        return data if isinstance(data, dict) else None

    def has_sharpness(self) -> bool:
        return (self.path / self.SHARPNESS).is_file()

    def plot(self, name: str) -> Path:
        """Where the plot ``name`` (e.g. ``roc``) goes: ``plots/<name>.png``."""
        return self.path / self.PLOTS / f"{name}.png"

    def new_evaluation(self, name: str) -> EvaluationFolder:
        """A new folder ``evaluations/<name>`` (``<name>-2``... when taken): never overwritten."""
        return EvaluationFolder.new(self.path / self.EVALUATIONS, name)

    def evaluations(self) -> list[EvaluationFolder]:
        """The evaluations on other data sets, in name order."""
        folder = self.path / self.EVALUATIONS
        return [EvaluationFolder(p) for p in sorted(folder.iterdir()) if p.is_dir()] if folder.is_dir() else []

    def write_model_card(self, text: str) -> None:
        write_text(self.path / self.MODEL_CARD, text)
