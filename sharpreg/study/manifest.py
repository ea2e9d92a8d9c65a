"""A sweep folder: ``sweep.json`` (the manifest: grid, every run's overrides, status and wall time),
``grid.toml`` (the grid file as given), ``runs/<id>/`` (run folders), ``logs/<id>.log``, ``stale/``, and with
``[tune]`` ``tune/`` (``runs/``, ``logs/``, ``stale/`` of the tuning runs, ``selection.json``, ``selection.csv``)."""

from __future__ import annotations

import json
import os
import shutil
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import StrEnum
from pathlib import Path
from typing import Any

from ..errors import RunError, SharpregError
from ..runs import RunFolder
from .grid import Combo, Grid

MANIFEST = "sweep.json"
GRID_COPY = "grid.toml"
RUNS = "runs"
LOGS = "logs"
STALE = "stale"
TUNE = "tune"


def run_folder(sweep_dir: Path, run_id: str, *, tuning: bool = False) -> RunFolder:
    """A main run's folder ``runs/<id>``, or a tuning run's ``tune/runs/<id>``."""
    return RunFolder(sweep_dir / (TUNE if tuning else "") / RUNS / run_id)


def log_file(sweep_dir: Path, run_id: str, *, tuning: bool = False) -> Path:
    return sweep_dir / (TUNE if tuning else "") / LOGS / f"{run_id}.log"


def run_folders(sweep_dir: Path) -> list[RunFolder]:
    """The run folders of a sweep, by id."""
    runs = Path(sweep_dir) / RUNS
    if not runs.is_dir():
        raise RunError(f"{sweep_dir} is not a sweep folder (no {RUNS}/ inside)")
    return [RunFolder(p) for p in sorted(runs.iterdir()) if p.is_dir()]


def read_manifest(sweep_dir: Path) -> dict[str, Any]:
    """The manifest, or ``{}`` when there is none (or it cannot be read)."""
    try:
        data = json.loads((Path(sweep_dir) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def move_aside(run: RunFolder) -> Path:
    """Move an unfinished run folder to ``<its runs folder's parent>/stale/<id>-<n>`` (kept for inspection)."""
    stale = run.path.parent.parent / STALE
    stale.mkdir(parents=True, exist_ok=True)
    n = 1
    while (stale / f"{run.path.name}-{n}").exists():
        n += 1
    target = stale / f"{run.path.name}-{n}"
    shutil.move(str(run.path), target)
    return target


class Status(StrEnum):
    """Of a run, in the manifest."""

    PENDING = "pending"
    SUBMITTED = "submitted"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    BUSY = "busy"
    """written by another process (e.g. one a killed sweep left); not touched"""


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class Manifest:
    """``sweep.json``, written atomically after every change (runs finish in parallel threads)."""

    path: Path
    data: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def open(cls, out: Path, grid: Grid) -> Manifest:
        """The sweep's manifest, with every run known now: the main runs (with ``[tune]``: the tuning runs;
        the main runs join with :meth:`add` once their values are chosen)."""
        data: dict[str, Any] = read_manifest(out)
        c = grid.config
        data.update({
            "name": grid.name, "description": c.description, "grid_file": str(grid.path.resolve()),
            "recipe": str(grid.recipe), "baseline": c.baseline, "replicates": list(c.replicates),
            "grid": {"set": c.set, "grid": c.grid, "zip": c.zip, "variants": c.variants,
                     "tune": c.tune.model_dump() if c.tune else None},
        })
        data.setdefault("created", now())
        data.setdefault("wall_seconds", 0.0)
        data.setdefault("sessions", [])
        data.setdefault("runs", {})
        manifest = cls(out / MANIFEST, data)
        if grid.tuning is None:
            manifest.add(grid.combos)
        else:
            data.setdefault("tune", {}).setdefault("runs", {})
            manifest.add([t.combo for t in grid.tuning.runs], section="tune", logs=f"{TUNE}/{LOGS}")
        return manifest

    def add(self, combos: list[Combo], *, section: str = "runs", logs: str = LOGS) -> None:
        """Register runs (refusing a known id with other overrides: a changed grid needs another folder)."""
        runs = self.data["runs"] if section == "runs" else self.data["tune"]["runs"]
        for combo in combos:
            old = runs.get(combo.id)
            if old is not None and old.get("overrides") != combo.overrides():
                raise SharpregError(f"{self.path.parent} already holds run {combo.id} with other settings "
                                    f"({old.get('overrides')}); this grid gives {combo.overrides()}. Use another "
                                    "--out for a changed grid")
        for combo in combos:
            runs.setdefault(combo.id, {"overrides": combo.overrides(), "values": combo.values, "variant": combo.variant,
                                       "status": Status.PENDING, "seconds": None, "attempts": 0,
                                       "log": f"{logs}/{combo.id}.log"})

    def entry(self, run: str) -> dict[str, Any]:
        """A run's record: a main run's, else a tuning run's."""
        runs = self.data["runs"]
        return runs[run] if run in runs else self.data["tune"]["runs"][run]

    def update(self, run: str, **fields: Any) -> None:
        with self.lock:
            self.entry(run).update(fields)
            self.save()

    def save(self) -> None:
        self.data["updated"] = now()
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(self.data, indent=2, default=str) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)

