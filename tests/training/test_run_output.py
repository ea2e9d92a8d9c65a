"""The first minutes of a run through the CLI, with its output captured (not a terminal): the plan, an
estimate, plain progress lines, no framework warnings, and a clear end when it is stopped."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sharpreg.cli import main
from sharpreg.runs import RunFolder, RunState

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "recipes" / "quickstart.toml"
# 25 images per class: 30 training images, 8 steps of 4 per epoch (the last of 2: BatchNorm needs 2)
SMALL = ["train.epochs=2", "data.per_class=25", "data.image_size=24", "data.native_size=32", "train.batch_size=4",
         "model.arch=resnet10t"]
SETS = [a for s in SMALL for a in ("--set", s)]


def command(*args: str) -> list[str]:
    """``sharpreg`` with every Python warning an error: a warning of torch, MONAI or timm fails the run."""
    return [sys.executable, "-W", "error", "-m", "sharpreg.cli", *args]


def events(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_captured_run_shows_plan_estimate_and_progress_without_warnings(tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = subprocess.run(command("run", str(QUICKSTART), "--out", str(out), "--progress-every", "0", *SETS),
                         capture_output=True, text=True, timeout=600)
    text = res.stdout + res.stderr
    assert res.returncode == 0, text[-3000:]
    assert "warn" not in text.lower() and "Traceback" not in text
    lines = res.stderr.splitlines()
    assert lines[0] == f"starting quickstart in {out}"
    assert lines[1] == "plan for quickstart"
    assert re.fullmatch(r"  device    cpu · \d+ cores?, \d+ torch threads? · fp32 · 0 loader workers", lines[2])
    assert re.fullmatch(r"  data      phantom · 30 train, 10 val, 10 test images · 24 px, 1 channel · decoded and "
                        r"cached in memory in [\d.]+ s", lines[3]), lines[3]
    assert re.fullmatch(r"  model     timm resnet10t · 4\.92 M parameters", lines[4])
    assert lines[5] == "  training  2 epochs × 8 steps of 4 images · none: 1 pass per step"
    estimates = [line for line in lines if line.startswith("  estimate  ")]
    assert len(estimates) == 2 and "(median of steps 2-4)" in estimates[0] and "(epoch 1)" in estimates[1]
    steps = [line for line in lines if re.match(r"epoch [12]/2  step \d/8  loss [\d.]+  [\d.]+ img/s", line)]
    assert len(steps) == 16 and "run left" in steps[-1]
    assert sum(line.startswith(("epoch 1/2 done in", "epoch 2/2 done in")) for line in lines) == 2

    log = (out / "log.txt").read_text()
    assert "plan: device    cpu" in log and "estimate: " in log
    ev = events(out)
    plan = next(e for e in ev if e["event"] == "plan")
    assert plan["precision"] == "fp32" and plan["num_workers"] == 0 and plan["images"]["train"] == 30
    assert plan["steps_per_epoch"] == 8 and plan["passes_per_step"] == 1 and plan["parameters"] > 0
    first = next(e for e in ev if e["event"] == "estimate")
    epoch1 = next(e for e in ev if e["event"] == "epoch")
    # a property of the estimator, not a speed limit: three timed steps predict the epoch they belong to
    ratio = first["epoch_train_seconds"] / epoch1["seconds"]
    assert 0.5 <= ratio <= 2.0, (first, epoch1["seconds"])


@pytest.mark.slow
def test_plan_only_times_steps_and_leaves_no_run_folder(tmp_path: Path) -> None:
    res = subprocess.run(command("run", str(QUICKSTART), "--plan", *SETS), capture_output=True, text=True,
                         timeout=600, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "warn" not in (res.stdout + res.stderr).lower()
    assert "plan for quickstart" in res.stdout and "training  2 epochs × 8 steps" in res.stdout
    labels = [line.split()[0] for line in res.stdout.splitlines()]
    assert labels == ["plan", "device", "data", "model", "training", "timing", "estimate"]  # the plan before timing
    assert re.search(r"  estimate  [\d.e-]+ s per step \(median of steps 2-4\): .* about .* for 2 epochs", res.stdout)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_sigterm_stops_with_a_checkpoint_and_one_line_to_resume(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = subprocess.Popen(command("run", str(QUICKSTART), "--out", str(out), "--progress-every", "0", *SETS),
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    seen = []
    assert proc.stderr is not None
    for line in proc.stderr:
        seen.append(line)
        if line.startswith("epoch 1/2  step 2/8"):
            os.kill(proc.pid, signal.SIGTERM)
            break
    _, rest = proc.communicate(timeout=600)
    lines = [x for x in "".join(seen).splitlines() + (rest or "").splitlines() if x.strip()]
    assert proc.returncode == 130, lines[-5:]
    assert "SIGTERM: stopping after this step" in "\n".join(lines)
    assert re.fullmatch(rf"stopped at epoch 1, step [2-7] of 8; checkpoint saved\. Continue with: sharpreg resume "
                        rf"{re.escape(str(out))}", lines[-1]), lines[-1]
    assert RunFolder(out).state() is RunState.RESUMABLE


def test_stopped_before_training_leaves_nothing_and_says_how_to_start_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from sharpreg.training import Trainer

    def interrupted(self: Trainer) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "setup", interrupted)
    out = tmp_path / "run"
    assert main(["run", str(QUICKSTART), "--out", str(out), "--set", "train.epochs=1"]) == 130
    err = capsys.readouterr().err
    assert "stopped before training began; nothing was kept. Start again with: sharpreg run" in err
    assert f"--set train.epochs=1 --out {out}" in err and "error" not in err
    assert not out.exists()
