"""Resuming an interrupted run ends with exactly the result of the uninterrupted run (CPU, bit-exact)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from sharpreg.training.trainer import TrainingInterrupted

from .tiny import trainer, write_recipe

pytestmark = pytest.mark.slow


def _result(run: Path) -> dict:
    """Everything that must match: summary numbers, per-epoch rows (minus timings), weights, checkpoint."""
    summary = json.loads((run / "summary.json").read_text())
    for k in ("run", "seconds", "train_seconds", "sessions"):
        summary.pop(k)
    rows = (run / "metrics.csv").read_text().splitlines()
    header = rows[0].split(",")
    drop = header.index("seconds")
    table = [[c for i, c in enumerate(r.split(",")) if i != drop] for r in rows]
    return {"summary": summary, "metrics": table, "weights": load_file(run / "model.safetensors"),
            "predictions": (run / "predictions" / "test.csv").read_text()}


def _assert_same(a: dict, b: dict) -> None:
    assert a["summary"] == b["summary"]
    assert a["metrics"] == b["metrics"]
    assert a["predictions"] == b["predictions"]
    assert a["weights"].keys() == b["weights"].keys()
    for k in a["weights"]:
        assert torch.equal(a["weights"][k], b["weights"][k]), k


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    folder = tmp_path_factory.mktemp("ref")
    recipe = write_recipe(folder)
    trainer(recipe, folder / "run").fit()
    return recipe, _result(folder / "run")


def test_resume_after_ctrl_c_mid_epoch_equals_uninterrupted(reference, tmp_path: Path) -> None:
    recipe, expected = reference
    t = trainer(recipe, tmp_path / "run")

    def stop_mid_epoch_2(epoch: int, step: int) -> None:
        if (epoch, step) == (1, 2):
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C: finish this step, save, say how to resume

    t.after_step = stop_mid_epoch_2
    with pytest.raises(TrainingInterrupted, match=r"epoch 2, step 2.*sharpreg resume"):
        t.fit()
    assert not (tmp_path / "run" / "summary.json").exists()
    assert len((tmp_path / "run" / "metrics.csv").read_text().splitlines()) == 2  # header + epoch 1
    again = trainer(recipe, tmp_path / "run", resume=True)
    again.setup = lambda: os.kill(os.getpid(), signal.SIGTERM)  # stopped again while it builds the run
    with pytest.raises(TrainingInterrupted, match=r"^stopped before training resumed; .*Continue with: sharpreg resume"):
        again.fit()
    trainer(recipe, tmp_path / "run", resume=True).fit()
    _assert_same(_result(tmp_path / "run"), expected)
    events = [json.loads(line)["event"] for line in (tmp_path / "run" / "events.jsonl").read_text().splitlines()]
    assert events.count("interrupted") == 2 and events.count("resume") == 1


KILLER = """
import os, signal, sys
import torch
torch.set_num_threads(1)  # as the in-process reference run
sys.path[:0] = {paths!r}
from tests.training.tiny import trainer
from pathlib import Path
t = trainer(Path({recipe!r}), Path({out!r}))
def kill(epoch, step):
    if (epoch, step) == (2, 1):  # mid-epoch 3: after the epoch-2 checkpoint, before the next one
        os.kill(os.getpid(), signal.SIGKILL)
t.after_step = kill
t.fit()
"""


def test_resume_after_kill_9_mid_epoch_equals_uninterrupted(reference, tmp_path: Path) -> None:
    recipe, expected = reference
    out = tmp_path / "run"
    root = str(Path(__file__).resolve().parents[2])
    code = textwrap.dedent(KILLER.format(paths=[root], recipe=str(recipe), out=str(out)))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == -9, proc.stderr[-2000:]
    assert (out / "checkpoints" / "last.pt").is_file() and not (out / "summary.json").exists()
    trainer(recipe, out, resume=True).fit()
    _assert_same(_result(out), expected)


def test_resume_of_a_finished_run_is_refused(reference, tmp_path: Path) -> None:
    from sharpreg.cli import main

    recipe, _ = reference
    run = recipe.parent / "run"
    assert main(["resume", str(run), "--no-progress"]) == 2
