"""The run store (DESIGN section 7): the only code that knows the names of a run folder's files.

Training, evaluation, reports, comparisons and sweeps read and write a run through :class:`RunFolder`.
"""

from __future__ import annotations

import json
import logging
import time
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
from .lifecycle import Checkpoint, RunLifecycle, RunState
from .predictions import Predictions, read_predictions, write_predictions
from .summary import Summary

if TYPE_CHECKING:
    import torch

LOGGER = "sharpreg"
Weights = Literal["best", "last", "safetensors"]
PredictedSplit = Literal["test", "val"]


class RunFolder(RunLifecycle):
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
    writer = True
    """this process writes the folder (False in the other processes of a multi-process run)"""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._metrics = MetricsTable(self.path / self.METRICS)

    def replica(self) -> RunFolder:
        """This folder as another process of a multi-process run uses it: reading only."""
        from .replica import ReplicaRunFolder

        return ReplicaRunFolder(self.path)

    # -- the recipe and the record of what ran --------------------------------------------------------
    def write_recipe(self, recipe: Recipe) -> None:
        """``resolved.toml`` first (from then on the folder is a run that ``resume`` takes), then the
        recipe as given and the ``--set`` overrides."""
        write_text(self.resolved_file, tomli_w.dumps(recipe.pinned()))
        if recipe.path is not None and recipe.path.is_file():
            write_text(self.path / self.RECIPE, recipe.path.read_bytes().decode("utf-8-sig", "replace"))
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
        """One line of ``events.jsonl``."""
        try:
            with (self.path / self.EVENTS).open("a", encoding="utf-8") as fh:
                fh.write(json.dumps({"time": time.time(), "event": kind, **data}, default=str) + "\n")
        except OSError as exc:
            raise RunError(f"cannot write {self.path / self.EVENTS}: {exc.strerror or exc}") from None

    def attach_log(self) -> logging.Handler:
        """Send the ``sharpreg`` logger to ``log.txt`` (returns the handler to detach later)."""
        try:
            handler = logging.FileHandler(self.path / self.LOG, encoding="utf-8", errors="backslashreplace")
        except OSError as exc:
            raise RunError(f"cannot write {self.path / self.LOG}: {exc.strerror or exc}") from None
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger = logging.getLogger(LOGGER)
        logger.setLevel(logging.INFO)
        logger.addHandler(handler)
        return handler

    # -- checkpoints and weights ------------------------------------------------------------------------
    def save_checkpoint(self, which: Checkpoint, state: dict[str, Any]) -> None:
        checkpoint.save_checkpoint(self.checkpoint_file(which), state)

    def load_checkpoint(self, which: Checkpoint, map_location: Any = "cpu") -> dict[str, Any]:
        """A checkpoint; one that cannot be used is a ``RunError`` that says how to recover."""
        try:
            return checkpoint.load_checkpoint(self.checkpoint_file(which), map_location=map_location)
        except RunError as exc:
            raise RunError(f"{exc}. {self.recovery(which)}") from None

    def recovery(self, which: Checkpoint | Literal["safetensors"]) -> str:
        """How to go on without the named weights file."""
        if which == "safetensors":
            return f"Delete it: `--checkpoint best` then reads {self.CHECKPOINTS}/best.pt (the same weights)"
        if which == "best" and (self.path / self.MODEL).is_file():
            return f"{self.MODEL} holds the same weights (`--checkpoint safetensors`)"
        return (f"To train the run again from its recipe, delete {self.CHECKPOINTS}/ and run "
                f"`sharpreg resume {self.path}`")

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
            try:
                return weights.load_safetensors(model), self.MODEL
            except RunError as exc:
                raise RunError(f"{exc}. {self.recovery('safetensors')}") from None
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
        """A new folder ``evaluations/<name>`` (``<name>-2``... when taken): never overwritten. ``name`` is one
        folder name (``SharpregError`` otherwise)."""
        return EvaluationFolder.new(self.path / self.EVALUATIONS, name)

    def evaluations(self) -> list[EvaluationFolder]:
        """The evaluations on other data sets, in name order."""
        folder = self.path / self.EVALUATIONS
        return [EvaluationFolder(p) for p in sorted(folder.iterdir()) if p.is_dir()] if folder.is_dir() else []

    def write_model_card(self, text: str) -> None:
        write_text(self.path / self.MODEL_CARD, text)
