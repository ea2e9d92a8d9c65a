"""Item 2: one writer per run folder. The lock dies with its holder, a second writer gets one line naming
the holder, a rerun sweep leaves a run that an orphan still writes alone, and a sweep's runs end with it."""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from sharpreg.recipe import load_recipe
from sharpreg.runs import RunFolder, RunState
from sharpreg.runs.lock import RunLock

from .conftest import one_line_error

LIFETIME = Path(__file__).resolve().parents[2] / "sharpreg" / "lifetime.py"


@contextmanager
def held_elsewhere(folder: Path, command: str = "run") -> Iterator[int]:
    """``folder`` locked by another process (a fork that holds the lock until it is killed with -9)."""
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the other process: take the lock, say so, wait to be killed
        try:
            lock = RunLock(folder)  # kept: the lock lives as long as its object (or its process)
            lock.acquire(command)
            os.write(ready_w, b"1")
            time.sleep(120)
        finally:
            os._exit(0)
    os.close(ready_w)
    try:
        assert os.read(ready_r, 1) == b"1"
        yield pid
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(ready_r)


def partial_run(recipe: Path, out: Path) -> RunFolder:
    """A run folder stopped before its first checkpoint (cheap: nothing trained)."""
    folder = RunFolder.create(load_recipe(recipe), out=out)
    folder.release()
    return folder


def test_a_second_writer_gets_one_line_naming_the_holder(cli, tiny: Path, tmp_path: Path) -> None:
    run = partial_run(tiny, tmp_path / "run")
    data = tmp_path / "other.toml"
    data.write_text('schema_version = 1\n[data]\nname = "phantom"\n')
    with held_elsewhere(run.path) as pid:
        assert run.state() is RunState.RUNNING
        for argv in (("resume", run.path), ("run", tiny, "--out", run.path), ("evaluate", run.path, "--data", data),
                     ("sharpness", run.path)):
            line = one_line_error(cli(*argv))
            assert f"is in use by `sharpreg run` (pid {pid} on {socket.gethostname()[:64]}" in line, line
        assert (run.path / "resolved.toml").is_file() and not (run.path / "evaluations").exists()
    # the holder died with -9: its lock died with it
    assert run.state() is RunState.PARTIAL
    with run.locked("resume"):
        assert run.state() is RunState.PARTIAL


def test_the_lock_ends_with_its_holder_not_with_a_forked_worker(tmp_path: Path) -> None:
    """A data-loader worker forked by the run shares the lock's file; killing the run frees the lock at once."""
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            lock = RunLock(tmp_path)
            lock.acquire("run")
            worker = os.fork()
            if worker == 0:  # the worker outlives its parent for a while
                time.sleep(60)
                os._exit(0)
            os.write(ready_w, str(worker).encode().ljust(16))
            time.sleep(120)
        finally:
            os._exit(0)
    os.close(ready_w)
    worker = int(os.read(ready_r, 16))
    os.close(ready_r)
    try:
        assert RunFolder(tmp_path).holder() is not None
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        assert _alive(worker) and RunFolder(tmp_path).holder() is None
    finally:
        os.kill(worker, signal.SIGKILL)


def test_the_lock_record_is_never_trusted_as_text(tmp_path: Path) -> None:
    """A forged .lock (a shared folder) shows only a number and checked words, never markup or escapes."""
    (tmp_path / ".lock").write_text('{"pid": "1; rm", "host": "[red]x\\u001b[2J", "command": "run", "since": 5}')
    with held_elsewhere(tmp_path):  # takes the lock, rewrites the record: forge it again while held
        (tmp_path / ".lock").write_text('{"pid": true, "host": "[red]x\\u001b[2J", "command": "run"}')
        holder = RunFolder(tmp_path).holder()
        assert holder is not None and str(holder) == "`sharpreg run` (another process on ?, since ?)"


def test_a_rerun_sweep_leaves_a_run_an_orphan_writes_alone(write_grid, tmp_path: Path) -> None:
    from sharpreg.study.grid import load_grid
    from sharpreg.study.sweep import Action, SweepOptions, plan, run_sweep

    grid = load_grid(write_grid('[grid]\n"train.seed" = [0, 1]\n'))
    out = tmp_path / "sweep"
    orphan = out / "runs" / "seed0"
    partial_run(grid.recipe, orphan)
    started: list[str] = []

    def record(action, recipe, overrides, run_dir) -> list[str]:
        started.append(f"{action} {Path(run_dir).name}")
        return [sys.executable, "-c", "pass"]

    with held_elsewhere(orphan) as pid:
        tasks = {t.id: t for t in plan(grid, out)}
        assert tasks["seed0"].action is Action.BUSY and f"pid {pid}" in tasks["seed0"].note
        m = run_sweep(grid, out, SweepOptions(progress=False, report=False), command_factory=record)
        assert started == ["run seed1"]  # the orphan's run is neither resumed, restarted nor moved aside
        assert m.data["runs"]["seed0"]["status"] == "busy" and (orphan / "resolved.toml").is_file()
        assert not (out / "stale").exists()
    assert {t.id: t.action for t in plan(grid, out)}["seed0"] is Action.RESTART  # once the orphan is gone


def _lifetime_code(body: str) -> str:
    """Python that loads sharpreg/lifetime.py alone (no torch: a child that starts in milliseconds)."""
    return textwrap.dedent(f"""
        import importlib.util, os, subprocess, sys, time
        spec = importlib.util.spec_from_file_location("lifetime", {str(LIFETIME)!r})
        lifetime = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(lifetime)
    """) + textwrap.dedent(body)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "State:\tZ" not in state


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_sweeps_child_ends_when_the_sweep_is_killed(tmp_path: Path) -> None:
    child = _lifetime_code("lifetime.follow_parent()\ntime.sleep(120)\n")
    sweep = _lifetime_code(f"""
        p = subprocess.Popen([sys.executable, "-c", {child!r}], env=lifetime.child_environment(dict(os.environ)),
                             start_new_session=True)
        print(p.pid, flush=True)
        time.sleep(120)
    """)
    parent = subprocess.Popen([sys.executable, "-c", sweep], stdout=subprocess.PIPE, text=True)
    pid = int(parent.stdout.readline())
    time.sleep(1.0)  # the child asks for the signal first thing; give it time to start
    assert _alive(pid)
    parent.kill()  # kill -9 of the sweep
    parent.wait()
    deadline = time.monotonic() + 30
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(pid), "the sweep's child outlived it"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_child_whose_sweep_died_before_it_started_ends_at_once() -> None:
    code = _lifetime_code("lifetime.follow_parent()\ntime.sleep(120)\n")
    env = {**os.environ, "SHARPREG_PARENT_PID": "1"}  # not this child's parent: that sweep is gone
    assert subprocess.run([sys.executable, "-c", code], env=env, timeout=60).returncode == -signal.SIGTERM


def test_sweep_children_carry_the_sweeps_pid() -> None:
    from sharpreg.lifetime import PARENT_ENV
    from sharpreg.study.tasks import child_env

    assert child_env(2)[PARENT_ENV] == str(os.getpid())
    spec = importlib.util.find_spec("sharpreg.lifetime")
    assert spec is not None and Path(spec.origin) == LIFETIME
