"""How the run store writes and reads its files: atomically replaced text and JSON, ``metrics.csv``."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

from ..errors import RunError


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file, so a reader never sees half of it."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8", errors="backslashreplace")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise RunError(f"cannot write {path}: {exc.strerror or exc}") from None


def write_json(path: Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, default=str) + "\n")


def read_json(path: Path) -> Any:
    """The JSON in ``path``, or None when the file is absent; an unreadable file is a ``RunError``."""
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise RunError(f"cannot read {path}: {type(exc).__name__}") from None


class MetricsTable:
    """``metrics.csv``: one row per epoch, columns fixed by the first row written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fields: list[str] | None = None

    def append(self, row: dict[str, Any]) -> None:
        try:
            self._append(row)
        except OSError as exc:
            raise RunError(f"cannot write {self.path}: {exc.strerror or exc}") from None

    def _append(self, row: dict[str, Any]) -> None:
        if self._fields is None:
            if self.path.exists() and self.path.stat().st_size:
                with self.path.open(newline="") as fh:
                    self._fields = next(csv.reader(fh))
            else:
                self._fields = list(row)
                with self.path.open("w", newline="") as fh:
                    csv.writer(fh).writerow(self._fields)
        with self.path.open("a", newline="") as fh:
            csv.DictWriter(fh, self._fields, extrasaction="ignore").writerow(row)

    def rewrite(self, rows: list[dict[str, Any]]) -> None:
        """Replace the file by exactly ``rows`` (on resume: drop rows of epochs not checkpointed)."""
        self._fields = None
        if not rows:
            self.path.unlink(missing_ok=True)
            return
        tmp = self.path.with_name(self.path.name + ".tmp")
        with tmp.open("w", newline="") as fh:
            w = csv.DictWriter(fh, list(rows[0]), extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)
        os.replace(tmp, self.path)

    def read(self) -> list[dict[str, Any]]:
        """The rows with numbers parsed (empty cells are None)."""
        if not self.path.is_file():
            return []
        with self.path.open(newline="") as fh:
            return [{k: _number(v) for k, v in row.items()} for row in csv.DictReader(fh)]

    def count(self) -> int:
        """Rows written so far (cheap: counts lines)."""
        try:
            with self.path.open() as fh:
                return max(0, sum(1 for _ in fh) - 1)
        except OSError:
            return 0


def _number(text: str | None) -> float | int | str | None:
    if text is None or text == "":
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text
