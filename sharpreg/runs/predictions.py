"""Per-image predictions as CSV (``id, label, class, prob_<class>...``), so plots can be redrawn."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import RunError


@dataclass
class Predictions:
    """One row per image, in data-set order: its id, label (class index), class probabilities, and the
    mean loss over all rows (NaN when read back from a file)."""

    ids: list[str]
    labels: np.ndarray
    probs: np.ndarray
    loss: float

    def __len__(self) -> int:
        return len(self.labels)


def write_predictions(path: Path, pred: Predictions, class_names: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8", errors="backslashreplace") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "label", "class", "predicted", *[f"prob_{c}" for c in class_names]])
        for i, y, p in zip(pred.ids, pred.labels, pred.probs):
            w.writerow([i, int(y), class_names[int(y)], class_names[int(np.argmax(p))], *[repr(float(v)) for v in p]])
    os.replace(tmp, path)


def read_predictions(path: Path) -> tuple[Predictions, list[str]]:
    """The predictions and class names written by :func:`write_predictions`."""
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise RunError(f"cannot read predictions {path}: {getattr(exc, 'strerror', None) or type(exc).__name__}") from None
    if not rows or rows[0][:4] != ["id", "label", "class", "predicted"]:
        raise RunError(f"{path} is not a sharpreg predictions file")
    classes = [c[len("prob_"):] for c in rows[0][4:]]
    body = rows[1:]
    try:
        labels = np.array([int(r[1]) for r in body], dtype=np.int64)
        probs = np.array([[float(v) for v in r[4:]] for r in body], dtype=np.float64).reshape(len(body), len(classes))
    except (ValueError, IndexError):
        raise RunError(f"{path} is damaged (a row is not an image's label and probabilities)") from None
    if len(labels) and (labels.min() < 0 or labels.max() >= len(classes)):
        raise RunError(f"{path} is damaged (a label outside its {len(classes)} classes)")
    return Predictions([r[0] for r in body], labels, probs, float("nan")), classes
