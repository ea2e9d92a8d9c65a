"""The runs of a sweep: what each needs now (:func:`plan`) and how one is carried out as a subprocess
(:func:`execute_task`, also inside a submitit job)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from ..launch import torchrun_args
from ..lifetime import child_environment
from ..runs import RunFolder, RunState
from .cluster import node_placement
from .grid import Combo, Grid
from .manifest import log_file, move_aside, run_folder


class Action(StrEnum):
    SKIP = "skip"
    """finished"""
    RUN = "run"
    """not started"""
    RESUME = "resume"
    """interrupted after a checkpoint: ``sharpreg resume``"""
    RESTART = "restart"
    """interrupted before its first checkpoint: moved to ``stale/`` and started again"""
    MEASURE = "measure"
    """finished, but the grid's ``[measure]`` has not run yet: ``sharpreg sharpness``"""
    BUSY = "busy"
    """another process writes the run (e.g. one left by a killed sweep): left alone"""


@dataclass
class Task:
    """One run of the sweep and what to do with it now."""

    id: str
    overrides: list[str]
    values: dict[str, Any]
    run: RunFolder
    log: Path
    action: Action
    epochs: int | None = None
    note: str = ""

    measure: list[str] | None = None
    """``sharpreg sharpness`` options when the grid has ``[measure]``"""
    variant: str | None = None
    tuning: bool = False
    """a tuning run (``SWEEP/tune/runs/``)"""

    def to_plain(self, recipe: Path, threads: int, nproc: int = 1, nnodes: int = 1) -> dict[str, Any]:
        """What a worker or a Slurm job needs to carry the run out; ``nproc`` processes on each of ``nnodes``
        nodes (torchrun) when either is above 1."""
        return {"id": self.id, "overrides": self.overrides, "run_dir": str(self.run.path), "log": str(self.log),
                "action": str(self.action), "recipe": str(recipe), "threads": threads, "measure": self.measure,
                "nproc": nproc, "nnodes": nnodes}


_PLANNED = {
    RunState.DONE: (Action.SKIP, "finished"),
    RunState.ABSENT: (Action.RUN, ""),
    RunState.RESUMABLE: (Action.RESUME, "interrupted: resumed"),
    RunState.PARTIAL: (Action.RESTART, "interrupted before its first checkpoint: restarted from scratch"),
    RunState.RUNNING: (Action.BUSY, "still written by another process; left alone"),
}


def plan(grid: Grid, out: Path, combos: list[Combo] | None = None, *, tuning: bool = False) -> list[Task]:
    """What each run needs: skip (finished), resume (interrupted), restart (unresumable) or run; with
    ``[measure]``, a finished run of its subset without a sharpness measurement needs ``measure``.
    ``combos``: the main runs to plan (default the grid's); ``tuning``: the grid's tuning runs instead."""
    tasks = []
    if tuning:
        combos = [t.combo for t in grid.tuning.runs] if grid.tuning else []
    for combo in grid.combos if combos is None else combos:
        cfg = grid.config.measure
        measure = cfg.args() if cfg is not None and not tuning and cfg.wants(combo.values) else None
        run = run_folder(out, combo.id, tuning=tuning)
        action, note = _PLANNED[run.state()]
        if action is Action.BUSY:
            note = f"in use by {run.holder()}: left alone; run the sweep again once it has ended"
        if action is Action.SKIP and measure and not run.has_sharpness():
            action, note = Action.MEASURE, "finished; sharpness measured"
        tasks.append(Task(combo.id, combo.overrides(), combo.values, run, log_file(out, combo.id, tuning=tuning),
                          action, grid.epochs.get(combo.id), note, measure, combo.variant, tuning))
    # seed-major (stable within a seed): a sweep stopped early still compares every method on the
    # seeds it finished, instead of leaving the last methods without any run
    tasks.sort(key=lambda t: _seed_rank(t.values.get("train.seed")))
    return tasks


def _seed_rank(seed: Any) -> tuple[int, int, str]:
    return (0, seed, "") if isinstance(seed, int) and not isinstance(seed, bool) else (1, 0, str(seed))


def child_env(threads: int) -> dict[str, str]:
    env = child_environment(dict(os.environ))
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = str(threads)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_command(action: Action, recipe: Path, overrides: list[str], run_dir: Path) -> list[str]:
    """The ``sharpreg`` command line of one run (for ``measure``, ``overrides`` are the sharpness options)."""
    cli = [sys.executable, "-m", "sharpreg.cli"]
    if action == Action.MEASURE:
        return [*cli, "sharpness", str(run_dir), *overrides]
    if action == Action.RESUME:
        return [*cli, "resume", str(run_dir), "--no-progress"]
    sets = [a for o in overrides for a in ("--set", o)]
    return [*cli, "run", str(recipe), *sets, "--out", str(run_dir), "--no-progress"]


def torchrun_wrapped(cmd: list[str], nproc: int, where: dict[str, Any]) -> list[str]:
    """A ``python -m MODULE ARGS`` or ``python SCRIPT ARGS`` command started through torchrun instead."""
    target = ["-m", *cmd[2:]] if cmd[1] == "-m" else cmd[1:]
    if target[:2] == ["-m", "sharpreg.cli"]:
        target[1] = "sharpreg"
    return [cmd[0], "-m", "torch.distributed.run", *torchrun_args(nproc, target, **where)]


CommandFactory = Callable[[Action, Path, list[str], Path], list[str]]
#: exit codes of a run stopped by Ctrl-C (or a forwarded SIGINT), and of one stopped by SIGTERM
STOPPED = (130, -signal.SIGINT)
INTERRUPTED = (*STOPPED, -signal.SIGTERM)


def execute_task(spec: dict[str, Any], command_factory: CommandFactory = run_command,
                 started: Callable[[subprocess.Popen], None] | None = None) -> dict[str, Any]:
    """Run (or resume, or restart) one run as a subprocess; its output goes to its log. Picklable for submitit."""
    run, log, recipe = RunFolder(Path(spec["run_dir"])), Path(spec["log"]), Path(spec["recipe"])
    action, note = Action(spec["action"]), ""
    nproc, nnodes = int(spec.get("nproc", 1)), int(spec.get("nnodes", 1))
    where = node_placement(nnodes)
    first = where.get("node_rank", 0) == 0
    if not first:  # another node of a multi-node run: its processes only, the bookkeeping is the first node's
        log = log.with_name(f"{log.stem}.node{where['node_rank']}{log.suffix}")
    log.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()

    def spawn(cmd: list[str]) -> int:
        with log.open("a", encoding="utf-8") as fh:
            fh.write(f"$ {' '.join(cmd)}\n")
            fh.flush()
            # own process group: a terminal's Ctrl-C reaches only the sweep, which forwards it once
            proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=child_env(int(spec["threads"])),
                                    start_new_session=True)
            if started:
                started(proc)
            return proc.wait()

    def call(act: Action) -> int:
        nonlocal note
        if act is Action.RESTART and run.path.exists() and first:
            if run.state() is RunState.RUNNING:  # never move a folder that another process writes
                note = f"in use by {run.holder()}: left alone"
                return 2
            move_aside(run)
        cmd = command_factory(Action.RESUME if act is Action.RESUME else Action.RUN, recipe, list(spec["overrides"]),
                              run.path)
        return spawn(torchrun_wrapped(cmd, nproc, where) if nproc > 1 or nnodes > 1 else cmd)

    rc = 0 if action is Action.MEASURE else call(action)
    if rc not in (0, *STOPPED) and action is Action.RESUME and run.state() not in (RunState.DONE, RunState.RUNNING):
        note = f"resume failed (exit {rc}); restarted from scratch"
        action = Action.RESTART
        rc = call(action)
    if rc == 0 and first and spec.get("measure") and run.state() is RunState.DONE and not run.has_sharpness():
        mrc = spawn(command_factory(Action.MEASURE, recipe, list(spec["measure"]), run.path))
        if mrc != 0:
            note = "; ".join(n for n in (note, f"sharpness measurement failed (exit {mrc}); see the log") if n)
    return {"id": spec["id"], "returncode": rc, "seconds": round(time.perf_counter() - t0, 2), "action": str(action),
            "note": note}
