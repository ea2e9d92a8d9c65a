"""Run a sweep: one run folder per grid point under ``SWEEP/runs/<id>/``, as ``sharpreg run`` subprocesses.

Resumable: a run with ``summary.json`` is skipped; one with a folder but no summary is continued with
``sharpreg resume`` (from ``checkpoints/last.pt``), or, when that is impossible or fails, moved to
``SWEEP/stale/`` and started again. ``SWEEP/sweep.json`` records the grid, every run's overrides,
status and wall time. Locally the runs go to N worker processes; on a cluster to Slurm via submitit.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import SharpregError
from .grid import Grid

MANIFEST = "sweep.json"
Action = str  # "skip" | "run" | "resume" | "restart" | "measure"


@dataclass
class Task:
    """One run of the sweep and what to do with it now."""

    id: str
    overrides: list[str]
    values: dict[str, Any]
    run_dir: Path
    log: Path
    action: Action
    epochs: int | None = None
    note: str = ""

    measure: list[str] | None = None
    """``sharpreg sharpness`` options when the grid has ``[measure]``"""

    def to_plain(self, recipe: Path, threads: int) -> dict[str, Any]:
        return {"id": self.id, "overrides": self.overrides, "run_dir": str(self.run_dir), "log": str(self.log),
                "action": self.action, "recipe": str(recipe), "threads": threads, "measure": self.measure}


@dataclass
class Outcome:
    id: str
    returncode: int
    seconds: float
    action: Action
    note: str = ""


def run_state(run_dir: Path) -> str:
    """``done`` (summary.json), ``partial`` (folder without summary), ``resumable`` (with last.pt) or ``absent``."""
    if (run_dir / "summary.json").is_file():
        return "done"
    if not run_dir.exists() or not any(run_dir.iterdir()):
        return "absent"
    return "resumable" if (run_dir / "checkpoints" / "last.pt").is_file() else "partial"


def resume_available() -> bool:
    """Whether this sharpreg has the ``resume`` command."""
    import importlib.util

    return importlib.util.find_spec("sharpreg.commands.resume") is not None


def plan(grid: Grid, out: Path) -> list[Task]:
    """What each run needs: skip (finished), resume (interrupted), restart (unresumable) or run; with
    ``[measure]``, a finished run without ``sharpness.json`` needs ``measure``."""
    tasks = []
    can_resume = resume_available()
    measure = grid.config.measure.args() if grid.config.measure else None
    for combo in grid.combos:
        run_dir = out / "runs" / combo.id
        state = run_state(run_dir)
        action, note = {"done": ("skip", "finished"), "absent": ("run", "")}.get(state, ("", ""))
        if state == "resumable":
            action, note = ("resume", "interrupted: resumed") if can_resume else \
                ("restart", "interrupted: restarted from scratch (no `sharpreg resume` in this build)")
        elif state == "partial":
            action, note = "restart", "interrupted before its first checkpoint: restarted from scratch"
        if action == "skip" and measure and not (run_dir / "sharpness.json").is_file():
            action, note = "measure", "finished; sharpness measured"
        tasks.append(Task(combo.id, combo.overrides(), combo.values, run_dir, out / "logs" / f"{combo.id}.log",
                          action, grid.epochs.get(combo.id), note, measure))
    # seed-major (stable within a seed): a sweep stopped early still compares every method on the
    # seeds it finished, instead of leaving the last methods without any run
    tasks.sort(key=lambda t: _seed_rank(t.values.get("train.seed")))
    return tasks


def _seed_rank(seed: Any) -> tuple[int, int, str]:
    return (0, seed, "") if isinstance(seed, int) and not isinstance(seed, bool) else (1, 0, str(seed))


# -- executing one run (also inside a submitit job) ---------------------------------------------
def child_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = str(threads)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_command(action: Action, recipe: Path, overrides: list[str], run_dir: Path) -> list[str]:
    """The ``sharpreg`` command line of one run (for ``measure``, ``overrides`` are the sharpness options)."""
    cli = [sys.executable, "-m", "sharpreg.cli"]
    if action == "measure":
        return [*cli, "sharpness", str(run_dir), *overrides]
    if action == "resume":
        return [*cli, "resume", str(run_dir), "--no-progress"]
    sets = [a for o in overrides for a in ("--set", o)]
    return [*cli, "run", str(recipe), *sets, "--out", str(run_dir), "--no-progress"]


def move_aside(run_dir: Path) -> Path:
    """Move an unfinished run folder to ``SWEEP/stale/<id>-<n>`` (kept for inspection)."""
    stale = run_dir.parent.parent / "stale"
    stale.mkdir(parents=True, exist_ok=True)
    n = 1
    while (stale / f"{run_dir.name}-{n}").exists():
        n += 1
    target = stale / f"{run_dir.name}-{n}"
    shutil.move(str(run_dir), target)
    return target


CommandFactory = Callable[[Action, Path, list[str], Path], list[str]]


def execute_task(spec: dict[str, Any], command_factory: CommandFactory = run_command,
                 started: Callable[[subprocess.Popen], None] | None = None) -> dict[str, Any]:
    """Run (or resume, or restart) one run as a subprocess; its output goes to its log. Picklable for submitit."""
    run_dir, log, recipe = Path(spec["run_dir"]), Path(spec["log"]), Path(spec["recipe"])
    action, note = spec["action"], ""
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
        if act == "restart" and run_dir.exists():
            move_aside(run_dir)
        return spawn(command_factory("resume" if act == "resume" else "run", recipe, list(spec["overrides"]), run_dir))

    def measure() -> int:
        return spawn(command_factory("measure", recipe, list(spec["measure"]), run_dir))

    rc = 0 if action == "measure" else call(action)
    if rc not in (0, 130, -signal.SIGINT) and action == "resume" and run_state(run_dir) != "done":
        note = f"resume failed (exit {rc}); restarted from scratch"
        action = "restart"
        rc = call("restart")
    if rc == 0 and spec.get("measure") and run_state(run_dir) == "done" and not (run_dir / "sharpness.json").is_file():
        mrc = measure()
        if mrc != 0:
            note = "; ".join(n for n in (note, f"sharpness measurement failed (exit {mrc}); see the log") if n)
    return {"id": spec["id"], "returncode": rc, "seconds": round(time.perf_counter() - t0, 2), "action": action,
            "note": note}


# -- the manifest ---------------------------------------------------------------------------------
@dataclass
class Manifest:
    path: Path
    data: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def open(cls, out: Path, grid: Grid) -> Manifest:
        path = out / MANIFEST
        data: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {}
        runs: dict[str, Any] = data.get("runs", {})
        for combo in grid.combos:
            old = runs.get(combo.id)
            if old is not None and old.get("overrides") != combo.overrides():
                raise SharpregError(f"{out} already holds run {combo.id} with other settings ({old.get('overrides')}); "
                                    f"this grid gives {combo.overrides()}. Use another --out for a changed grid")
        c = grid.config
        data.update({
            "name": grid.name, "description": c.description, "grid_file": str(grid.path.resolve()),
            "recipe": str(grid.recipe), "baseline": c.baseline, "replicates": list(c.replicates),
            "grid": {"set": c.set, "grid": c.grid, "variants": c.variants},
        })
        data.setdefault("created", _now())
        data.setdefault("wall_seconds", 0.0)
        data.setdefault("sessions", [])
        for combo in grid.combos:
            runs.setdefault(combo.id, {"overrides": combo.overrides(), "values": combo.values, "status": "pending",
                                       "seconds": None, "attempts": 0, "log": f"logs/{combo.id}.log"})
        data["runs"] = runs
        m = cls(path, data)
        return m

    def update(self, run: str, **fields: Any) -> None:
        with self.lock:
            self.data["runs"][run].update(fields)
            self.save()

    def save(self) -> None:
        self.data["updated"] = _now()
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(self.data, indent=2, default=str) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# -- the sweep ------------------------------------------------------------------------------------
@dataclass
class SweepOptions:
    workers: int = 1
    threads: int = 1
    executor: str = "local"  # "local" | "slurm" | "submitit-local"
    progress: bool = True
    report: bool = True


def prepare(grid: Grid, out: Path) -> tuple[Manifest, list[Task]]:
    """Create the sweep folder, copy the grid file, and plan every run."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "runs").mkdir(exist_ok=True)
    manifest = Manifest.open(out, grid)
    copy = out / "grid.toml"
    if not (copy.exists() and copy.samefile(grid.path)):
        shutil.copyfile(grid.path, copy)  # for the record (its relative `recipe` path is the original's)
    tasks = plan(grid, out)
    for t in tasks:
        if t.action == "skip":
            manifest.data["runs"][t.id]["status"] = "done"
    manifest.save()
    return manifest, tasks


def run_sweep(grid: Grid, out: Path, options: SweepOptions, *, console: Any = None,
              command_factory: CommandFactory = run_command) -> Manifest:
    """Run every unfinished run of ``grid`` into ``out``; returns the manifest (also in ``out/sweep.json``)."""
    manifest, tasks = prepare(grid, out)
    todo = [t for t in tasks if t.action != "skip"]
    t0 = time.perf_counter()
    restore = _terminate_as_interrupt()
    session = {"started": _now(), "executor": options.executor, "workers": options.workers,
               "threads": options.threads, "runs": len(todo)}
    try:
        if options.executor == "local":
            _run_local(grid, todo, manifest, options, console, command_factory)
        else:
            _run_submitit(grid, out, todo, manifest, options, console, command_factory)
    finally:
        restore()
        session["seconds"] = round(time.perf_counter() - t0, 1)
        with manifest.lock:
            manifest.data["wall_seconds"] = round(float(manifest.data.get("wall_seconds", 0.0)) + session["seconds"], 1)
            manifest.data["sessions"].append(session)
            manifest.save()
    return manifest


def _terminate_as_interrupt() -> Callable[[], None]:
    """SIGTERM (a scheduler's or `kill`'s stop) ends the sweep as Ctrl-C does; returns the restorer."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    return lambda: signal.signal(signal.SIGTERM, previous)


def _record(manifest: Manifest, task: Task, result: dict[str, Any]) -> None:
    ok = result["returncode"] == 0 and run_state(task.run_dir) == "done"
    status = "done" if ok else ("interrupted" if result["returncode"] in (130, -signal.SIGINT, -signal.SIGTERM) else "failed")
    prev = manifest.data["runs"][task.id]
    note = "; ".join(n for n in (task.note, result.get("note", "")) if n)
    manifest.update(task.id, status=status, seconds=result["seconds"], returncode=result["returncode"],
                    action=result["action"], attempts=int(prev.get("attempts", 0)) + 1, note=note,
                    finished=_now())


def _progress(console: Any, enabled: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, disable=not enabled, transient=False)


def _epochs_done(run_dir: Path) -> int:
    f = run_dir / "metrics.csv"
    try:
        with f.open() as fh:
            return max(0, sum(1 for _ in fh) - 1)
    except OSError:
        return 0


def _run_local(grid: Grid, todo: list[Task], manifest: Manifest, options: SweepOptions, console: Any,
               command_factory: CommandFactory) -> None:
    procs: dict[str, subprocess.Popen] = {}
    stopping = threading.Event()

    def work(task: Task) -> dict[str, Any]:
        if stopping.is_set():
            return {"id": task.id, "returncode": 130, "seconds": 0.0, "action": task.action, "note": "not started"}
        manifest.update(task.id, status="running", started=_now())
        spec = task.to_plain(grid.recipe, options.threads)
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
                        progress.update(bars[task.id], completed=_epochs_done(task.run_dir))
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
    executor = submitit.AutoExecutor(folder=out / "submitit" / "%j", cluster=cluster)
    s = grid.config.slurm
    params: dict[str, Any] = {"timeout_min": s.timeout_min, "name": f"sharpreg-{grid.name}"}
    if cluster == "slurm":
        params |= {"gpus_per_node": s.gpus_per_node, "cpus_per_task": s.cpus_per_task, "mem_gb": s.mem_gb,
                   "slurm_array_parallelism": s.array_parallelism}
        params |= {f"slurm_{k}": getattr(s, k) for k in ("partition", "account", "constraint") if getattr(s, k)}
    executor.update_parameters(**params)
    threads = s.cpus_per_task if cluster == "slurm" else options.threads
    jobs = []
    with executor.batch():
        for t in todo:
            jobs.append((t, executor.submit(execute_task, t.to_plain(grid.recipe, threads), command_factory)))
    for t, job in jobs:
        manifest.update(t.id, status="submitted", job_id=str(job.job_id))
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
