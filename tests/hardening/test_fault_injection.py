"""SIGKILL at seeded random points of a run's life (setup, training, checkpoint writing, evaluation), then
`sharpreg run` or `sharpreg resume` as the folder asks: no folder is ever left that neither command takes,
and the final result equals that of an uninterrupted run, bit for bit.

Each command runs in a forked copy of this process (no interpreter start-up: cheap enough for CI). A kill
point is the n-th call of one of the functions below, counted over the run's whole life (replayed steps
count again); "rename:X" is the moment an atomic write of X has its temporary file but has not renamed it.
"""

from __future__ import annotations

import json
import os
import random
import signal
import traceback
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from sharpreg.runs import RunFolder, RunState

from ..training.test_resume import _assert_same, _result
from ..training.tiny import write_recipe

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")]

STAGES = {
    "setup": ("rename:resolved.toml", "rename:overrides.toml", "build_parts", "rename:split.json"),
    "training": ("step",),
    "checkpoint writing": ("rename:last.pt", "rename:best.pt", "append_metrics"),
    "evaluation": ("predict", "rename:test.csv", "rename:model.safetensors", "rename:summary.json", "plots"),
}
SEED = 20251130
KILLS = 6


def _instrument(kills: list[tuple[str, int]], counts_file: Path) -> None:
    """In the child: count calls of every point, SIGKILL this process at a pending ``(point, n)``."""
    from sharpreg.engine import SharpnessStep
    from sharpreg.evaluation.step import Evaluator
    from sharpreg.training import finish, trainer

    counts: dict[str, int] = json.loads(counts_file.read_text()) if counts_file.is_file() else {}

    def tick(point: str) -> None:
        counts[point] = counts.get(point, 0) + 1
        counts_file.write_text(json.dumps(counts))
        if (point, counts[point]) in kills:
            os.kill(os.getpid(), signal.SIGKILL)

    def counted(point: str, fn: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            tick(point)
            return fn(*args, **kwargs)
        return wrapper

    replace = os.replace

    def counted_replace(src: Any, dst: Any) -> None:
        tick(f"rename:{Path(dst).name}")
        replace(src, dst)

    os.replace = counted_replace  # this forked process only
    SharpnessStep.step = counted("step", SharpnessStep.step)
    Evaluator.predict = counted("predict", Evaluator.predict)
    RunFolder.append_metrics = counted("append_metrics", RunFolder.append_metrics)
    trainer.build_parts = counted("build_parts", trainer.build_parts)
    finish.draw_run_plots = counted("plots", finish.draw_run_plots)


def _command(argv: list[str], kills: list[tuple[str, int]], counts_file: Path, log: Path) -> int | None:
    """``sharpreg ARGV`` in a forked child; its exit code, or None when it was killed."""
    pid = os.fork()
    if pid == 0:
        code = 3
        try:
            with log.open("a") as sink, redirect_stdout(sink), redirect_stderr(sink):
                _instrument(kills, counts_file)
                from sharpreg.cli import main

                code = main(argv)
        except BaseException:
            with log.open("a") as sink:
                traceback.print_exc(file=sink)
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        assert os.WTERMSIG(status) == signal.SIGKILL
        return None
    return os.WEXITSTATUS(status)


def _plan(reference_counts: dict[str, int]) -> list[tuple[str, int]]:
    """One kill point in every stage, the rest anywhere: (point, n-th call), drawn with a fixed seed."""
    rng = random.Random(SEED)
    stages = [*STAGES, *rng.choices(list(STAGES), k=KILLS - len(STAGES))]
    kills = []
    for stage in stages:
        point = rng.choice([p for p in STAGES[stage] if reference_counts.get(p)])
        kills.append((point, rng.randint(1, reference_counts[point])))
    return sorted(set(kills))


def test_sigkill_anywhere_then_run_or_resume_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    recipe = write_recipe(tmp_path, rule="sam", epochs=2)
    ref_counts = tmp_path / "reference-counts.json"
    reference = tmp_path / "reference"
    assert _command(["run", str(recipe), "--out", str(reference), "--no-progress"], [], ref_counts,
                    tmp_path / "reference.log") == 0, (tmp_path / "reference.log").read_text()[-3000:]
    counts = json.loads(ref_counts.read_text())
    assert all(counts.get(p) for p in ("step", "rename:last.pt", "predict", "rename:summary.json", "build_parts"))
    kills = _plan(counts)

    out, counts_file, log = tmp_path / "run", tmp_path / "counts.json", tmp_path / "run.log"
    history: list[str] = []
    for _ in range(len(kills) + 3):
        state = RunFolder(out).state()
        assert state is not RunState.RUNNING, "a killed process still holds the folder"
        if state is RunState.DONE:
            break
        argv = ["run", str(recipe), "--out", str(out)] if state is RunState.ABSENT else ["resume", str(out)]
        code = _command([*argv, "--no-progress"], kills, counts_file, log)
        history.append(f"{state}: {argv[0]} -> {'killed' if code is None else code}")
        assert code in (None, 0), f"{history}\n{log.read_text()[-3000:]}"  # the folder was taken, every time
    assert RunFolder(out).state() is RunState.DONE, history
    done = json.loads(counts_file.read_text())
    assert all(done.get(point, 0) >= n for point, n in kills), (kills, done)  # every kill point was reached
    assert sum("killed" in h for h in history) == len(kills), history
    _assert_same(_result(out), _result(reference))
