"""Run a sweep: one run folder per grid point under ``SWEEP/runs/<id>/``, as ``sharpreg run`` subprocesses.

Resumable: a finished run is skipped; an interrupted one is continued with ``sharpreg resume``, or, when
that is impossible or fails, moved to ``SWEEP/stale/`` and started again. ``SWEEP/sweep.json`` records
the grid, every run's overrides, status and wall time. Locally the runs go to N worker processes; on a
cluster to Slurm via submitit. With ``[tune]`` the tuning runs come first (``SWEEP/tune/``); each main
run starts once its group has chosen (``tuning.py``).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..errors import RunError, SharpregError
from ..runs import RunState
from .cluster import SlurmConfig, submitit_parameters
from .grid import Combo, Grid
from .manifest import GRID_COPY, RUNS, Manifest, Status, now
from .tasks import INTERRUPTED, Action, CommandFactory, Task, execute_task, plan, run_command
from .tuning import select, tuned_combos

Executor = Literal["local", "slurm", "submitit-local"]
__all__ = ["Action", "Executor", "SweepOptions", "Task", "execute_task", "plan", "run_command", "run_sweep"]


# -- the sweep ------------------------------------------------------------------------------------
@dataclass
class SweepOptions:
    workers: int = 1
    threads: int = 1
    executor: Executor = "local"
    progress: bool = True
    report: bool = True
    slurm: SlurmConfig | None = None
    """the grid's ``[slurm]`` with the command's options on top (default: the grid's)"""


def prepare(grid: Grid, out: Path) -> Manifest:
    """Create the sweep folder, copy the grid file, and open the manifest."""
    if out.exists() and not out.is_dir():
        raise RunError(f"{out} is a file, not a folder; give --out a folder path")
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / RUNS).mkdir(exist_ok=True)
        manifest = Manifest.open(out, grid)
        copy = out / GRID_COPY
        if not (copy.exists() and copy.samefile(grid.path)):
            shutil.copyfile(grid.path, copy)  # for the record (its relative `recipe` path is the original's)
        manifest.save()
    except OSError as exc:
        raise RunError(f"cannot write the sweep folder {out}: {exc.strerror or type(exc).__name__}; it needs write "
                       "access (or choose another --out)") from None
    return manifest


def main_runs(grid: Grid, out: Path, manifest: Manifest) -> list[Combo]:
    """The main runs that can start: all of them, or with ``[tune]`` those whose group has chosen (the
    choices are written to ``tune/`` and registered in the manifest)."""
    if grid.tuning is None:
        return grid.combos
    record = select(grid, out)
    combos = tuned_combos(grid, record)
    with manifest.lock:
        manifest.add(combos)
        manifest.data["tune"]["waiting"] = sorted({c.id for c in grid.combos} - {c.id for c in combos})
        manifest.save()
    return combos


def run_sweep(grid: Grid, out: Path, options: SweepOptions, *, console: Any = None,
              command_factory: CommandFactory = run_command) -> Manifest:
    """Run every unfinished run of ``grid`` into ``out`` (tuning runs first); returns the manifest (also
    in ``out/sweep.json``)."""
    manifest = prepare(grid, out)
    t0 = time.perf_counter()
    restore = _terminate_as_interrupt()
    session: dict[str, Any] = {"started": now(), "executor": options.executor, "workers": options.workers,
                               "threads": options.threads, "runs": 0}
    try:
        if grid.tuning is not None:
            _run_phase(grid, out, plan(grid, out, tuning=True), manifest, options, console, command_factory, session)
        _run_phase(grid, out, plan(grid, out, main_runs(grid, out, manifest)), manifest, options, console,
                   command_factory, session)
    finally:
        restore()
        session["seconds"] = round(time.perf_counter() - t0, 1)
        with manifest.lock:
            manifest.data["wall_seconds"] = round(float(manifest.data.get("wall_seconds", 0.0)) + session["seconds"], 1)
            manifest.data["sessions"].append(session)
            manifest.save()
    return manifest


def _run_phase(grid: Grid, out: Path, tasks: list[Task], manifest: Manifest, options: SweepOptions, console: Any,
               command_factory: CommandFactory, session: dict[str, Any]) -> None:
    for t in tasks:
        if t.action is Action.SKIP:
            manifest.entry(t.id)["status"] = Status.DONE
        elif t.action is Action.BUSY:
            manifest.entry(t.id).update(status=Status.BUSY, note=t.note)
    manifest.save()
    todo = [t for t in tasks if t.action not in (Action.SKIP, Action.BUSY)]
    session["runs"] += len(todo)
    if options.executor == "local":
        _run_local(grid, todo, manifest, options, console, command_factory)
    else:
        _run_submitit(grid, out, todo, manifest, options, console, command_factory)


def _terminate_as_interrupt() -> Callable[[], None]:
    """SIGTERM (a scheduler's or `kill`'s stop) ends the sweep as Ctrl-C does; returns the restorer."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    return lambda: signal.signal(signal.SIGTERM, previous)


def _record(manifest: Manifest, task: Task, result: dict[str, Any]) -> None:
    ok = result["returncode"] == 0 and task.run.state() is RunState.DONE
    status = Status.DONE if ok else (Status.INTERRUPTED if result["returncode"] in INTERRUPTED else Status.FAILED)
    prev = manifest.entry(task.id)
    note = "; ".join(n for n in (task.note, result.get("note", "")) if n)
    manifest.update(task.id, status=status, seconds=result["seconds"], returncode=result["returncode"],
                    action=result["action"], attempts=int(prev.get("attempts", 0)) + 1, note=note,
                    finished=now())


def _progress(console: Any, enabled: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, disable=not enabled, transient=False)


def _run_local(grid: Grid, todo: list[Task], manifest: Manifest, options: SweepOptions, console: Any,
               command_factory: CommandFactory) -> None:
    procs: dict[str, subprocess.Popen] = {}
    stopping = threading.Event()

    def work(task: Task) -> dict[str, Any]:
        if stopping.is_set():
            return {"id": task.id, "returncode": 130, "seconds": 0.0, "action": task.action, "note": "not started"}
        manifest.update(task.id, status=Status.RUNNING, started=now())
        spec = task.to_plain(grid.recipe, options.threads, nproc=(options.slurm or grid.config.slurm).processes)
        try:
            return execute_task(spec, command_factory, started=lambda p: procs.__setitem__(task.id, p))
        except OSError as exc:  # e.g. the log or the run folder cannot be written: this run fails, not the sweep
            return {"id": task.id, "returncode": 1, "seconds": 0.0, "action": task.action,
                    "note": f"could not start: {exc}"}

    with _progress(console, options.progress) as progress, ThreadPoolExecutor(max_workers=options.workers) as pool:
        overall = progress.add_task(f"sweep {grid.name}", total=len(todo))
        futures = {pool.submit(work, t): t for t in todo}
        bars: dict[str, Any] = {}
        try:
            while futures:
                time.sleep(0.5)
                for fut, task in list(futures.items()):
                    if task.id in procs and task.id not in bars and not fut.done():
                        bars[task.id] = progress.add_task(f"  {task.id}", total=task.epochs or 1)
                    if task.id in bars:
                        progress.update(bars[task.id], completed=task.run.epochs_done())
                    if fut.done():
                        _record(manifest, task, fut.result())
                        progress.advance(overall)
                        if task.id in bars:
                            progress.remove_task(bars.pop(task.id))
                        del futures[fut]
        except KeyboardInterrupt:
            stopping.set()
            for p in list(procs.values()):
                if p.poll() is None:
                    p.send_signal(signal.SIGINT)  # runs save a checkpoint and stop; `sharpreg sweep` resumes them
            for fut, task in futures.items():
                _record(manifest, task, fut.result())
            raise


def _run_submitit(grid: Grid, out: Path, todo: list[Task], manifest: Manifest, options: SweepOptions,
                  console: Any, command_factory: CommandFactory = run_command) -> None:
    try:
        import submitit
    except ImportError:
        raise SharpregError("--executor slurm needs submitit: pip install 'sharpreg[slurm]'") from None
    cluster = "local" if options.executor == "submitit-local" else "slurm"
    s = options.slurm or grid.config.slurm
    params = submitit_parameters(s, cluster, f"sharpreg-{grid.name}")  # checked before anything is submitted
    executor = submitit.AutoExecutor(folder=out / "submitit" / "%j", cluster=cluster)
    executor.update_parameters(**params)
    # a node's cores are shared by the run's processes there
    threads = max(1, s.cpus_per_task // s.processes) if cluster == "slurm" else options.threads
    jobs = []
    with executor.batch():
        for t in todo:
            spec = t.to_plain(grid.recipe, threads, nproc=s.processes, nnodes=s.nodes)
            jobs.append((t, executor.submit(execute_task, spec, command_factory)))
    for t, job in jobs:
        manifest.update(t.id, status=Status.SUBMITTED, job_id=str(job.job_id))
    with _progress(console, options.progress) as progress:
        overall = progress.add_task(f"sweep {grid.name} ({cluster})", total=len(jobs))
        pending = list(jobs)
        while pending:
            time.sleep(1.0)
            for t, job in list(pending):
                if job.done():
                    try:
                        result = job.result()
                    except Exception as exc:  # the job itself failed (scheduler, node)
                        result = {"id": t.id, "returncode": 1, "seconds": 0.0, "action": t.action,
                                  "note": f"job failed: {type(exc).__name__}: {str(exc)[:200]}"}
                    _record(manifest, t, result)
                    progress.advance(overall)
                    pending.remove((t, job))
