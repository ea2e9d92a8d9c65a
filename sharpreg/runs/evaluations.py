"""``evaluations/<name>/`` of a run folder: the trained model scored on another data set."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from ..paths import child
from .files import read_json, write_json
from .predictions import Predictions, read_predictions, write_predictions


class EvaluationFolder:
    """``data.toml`` (the data file as given), ``metrics.json``, ``split.json``, ``predictions.csv``, ``plots/``."""

    DATA = "data.toml"
    RECORD = "metrics.json"
    SPLIT = "split.json"
    PREDICTIONS = "predictions.csv"
    PLOTS = "plots"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @classmethod
    def new(cls, parent: Path, name: str) -> EvaluationFolder:
        """A new folder ``parent/<name>`` (``<name>-2``... when taken): never overwritten. ``name`` is one folder
        name (a ``SharpregError`` otherwise)."""
        base = child(Path(parent), name, "the evaluation name")
        path, n = base, 1
        while path.exists():
            n += 1
            path = base.with_name(f"{name}-{n}")
        path.mkdir(parents=True)
        return cls(path)

    def copy_data_file(self, source: Path) -> None:
        shutil.copyfile(source, self.path / self.DATA)

    def write_record(self, record: dict[str, Any]) -> None:
        write_json(self.path / self.RECORD, record)

    def read_record(self) -> dict[str, Any]:
        return read_json(self.path / self.RECORD) or {}

    def write_split(self, record: dict[str, Any]) -> None:
        write_json(self.path / self.SPLIT, record)

    def write_predictions(self, pred: Predictions, classes: list[str]) -> None:
        write_predictions(self.path / self.PREDICTIONS, pred, classes)

    def read_predictions(self) -> tuple[Predictions, list[str]]:
        return read_predictions(self.path / self.PREDICTIONS)

    def plot(self, name: str) -> Path:
        return self.path / self.PLOTS / f"{name}.png"
