"""A run folder (DESIGN section 7): recipe copies, environment, logs, metrics, summary."""

from __future__ import annotations

import csv
import json
import logging
import os
import platform
import re
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone
from importlib import metadata as md
from pathlib import Path
from typing import Any

import tomli_w

from ..errors import RunError
from ..recipe import Recipe, parse_override

PACKAGES = ("sharpreg", "torch", "torchvision", "timm", "monai", "pydantic", "pluggy", "numpy", "scikit-learn", "torchmetrics")
LOGGER = "sharpreg"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "run"


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


class RunFolder:
    """Creates and writes the files of one run."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._metric_fields: list[str] | None = None

    # -- creation -------------------------------------------------------------------------------
    @classmethod
    def create(cls, recipe: Recipe, *, out: Path | None = None, root: Path = Path("runs")) -> RunFolder:
        """A new folder ``root/<time>-<name>`` (or exactly ``out``); an existing one is never reused."""
        if out is not None:
            path = Path(out)
            if path.exists() and any(path.iterdir()):
                raise RunError(f"run folder {path} already exists and is not empty; resume it with `sharpreg resume {path}` or choose another --out")
        else:
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            base = root / f"{stamp}-{_slug(recipe.name)}"
            path, n = base, 1
            while path.exists():
                n += 1
                path = base.with_name(f"{base.name}-{n}")
        try:
            path.mkdir(parents=True, exist_ok=True)
            (path / ".write-test").write_text("ok")
            (path / ".write-test").unlink()
        except OSError as exc:
            raise RunError(f"cannot write the run folder {path}: {exc.strerror or exc}") from None
        run = cls(path)
        run.write_recipe(recipe)
        return run

    @classmethod
    def open(cls, path: Path) -> RunFolder:
        path = Path(path)
        if not (path / "resolved.toml").is_file():
            raise RunError(f"{path} is not a sharpreg run folder (no resolved.toml there)")
        return cls(path)

    # -- files ------------------------------------------------------------------------------------
    def write_recipe(self, recipe: Recipe) -> None:
        if recipe.path is not None and recipe.path.is_file():
            _atomic_write(self.path / "recipe.toml", recipe.path.read_text(encoding="utf-8"))
        _atomic_write(self.path / "resolved.toml", tomli_w.dumps(recipe.resolved()))
        overrides: dict[str, Any] = {}
        for text in recipe.overrides:
            keys, value = parse_override(text)
            node = overrides
            for k in keys[:-1]:
                node = node.setdefault(k, {})
            node[keys[-1]] = value
        header = "# --set overrides given on the command line (empty when none)\n"
        _atomic_write(self.path / "overrides.toml", header + tomli_w.dumps(overrides))

    def write_environment(self, recipe: Recipe, extra: dict[str, Any]) -> None:
        env = {
            "created": datetime.now(timezone.utc).isoformat(),
            "command": sys.argv,
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "hostname": socket.gethostname(),
            "packages": {p: _version(p) for p in PACKAGES},
            "plugins": recipe.provenance(),
            "git_commit": _git_commit(),
            "data_env": os.environ.get("SHARPREG_DATA"),
        } | extra
        self.write_json("environment.json", env)

    def write_json(self, name: str, data: Any) -> None:
        _atomic_write(self.path / name, json.dumps(data, indent=2, default=str) + "\n")

    def read_json(self, name: str) -> Any:
        return json.loads((self.path / name).read_text(encoding="utf-8"))

    def append_metrics(self, row: dict[str, Any]) -> None:
        """One row per epoch in ``metrics.csv`` (columns fixed by the first row)."""
        file = self.path / "metrics.csv"
        if self._metric_fields is None:
            if file.exists() and file.stat().st_size:
                with file.open(newline="") as fh:
                    self._metric_fields = next(csv.reader(fh))
            else:
                self._metric_fields = list(row)
                with file.open("w", newline="") as fh:
                    csv.writer(fh).writerow(self._metric_fields)
        with file.open("a", newline="") as fh:
            csv.DictWriter(fh, self._metric_fields, extrasaction="ignore").writerow(row)

    def rewrite_metrics(self, rows: list[dict[str, Any]]) -> None:
        """Replace ``metrics.csv`` by exactly ``rows`` (on resume: drop rows of epochs not checkpointed)."""
        file = self.path / "metrics.csv"
        self._metric_fields = None
        if not rows:
            file.unlink(missing_ok=True)
            return
        fields = list(rows[0])
        tmp = file.with_name(file.name + ".tmp")
        with tmp.open("w", newline="") as fh:
            w = csv.DictWriter(fh, fields, extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)
        os.replace(tmp, file)

    def read_metrics(self) -> list[dict[str, Any]]:
        """The rows of ``metrics.csv`` with numbers parsed (empty cells are None)."""
        file = self.path / "metrics.csv"
        if not file.is_file():
            return []
        with file.open(newline="") as fh:
            return [{k: _number(v) for k, v in row.items()} for row in csv.DictReader(fh)]

    def event(self, kind: str, **data: Any) -> None:
        with (self.path / "events.jsonl").open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({"time": time.time(), "event": kind, **data}, default=str) + "\n")

    def attach_log(self) -> logging.Handler:
        """Send the ``sharpreg`` logger to ``log.txt`` (returns the handler to detach later)."""
        handler = logging.FileHandler(self.path / "log.txt", encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger = logging.getLogger(LOGGER)
        logger.setLevel(logging.INFO)
        logger.addHandler(handler)
        return handler

    @property
    def checkpoints(self) -> Path:
        p = self.path / "checkpoints"
        p.mkdir(exist_ok=True)
        return p


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


def _version(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None
