"""Training on two CPU processes (gloo) through torchrun: the same weights and metrics as one process at the
same global batch (rule none, sam with a global perturbation, and the rules that skip passes, LookSAM and
RST); a kill -9 of one rank, then
`sharpreg resume`, ends where the uninterrupted two-process run ends. The model has no BatchNorm (each
process would normalize its own part of the batch) and no dropout."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from .tiny import trainer, write_recipe

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
# 18 images, a quarter each to validation and test: 8 to train in steps of 7 and 1, so the processes hold
# 4 and 3 images in the first step, and the second process holds one padding image in the last
SHAPE = dict(epochs=2, arch="test_vit", per_class=9, batch_size=7, max_steps=None)
#: differs between one process and two by design: cos(g, g_p) uses each process's own perturbed gradient
LOCAL_DIAGNOSTICS = ("diag_cos_g_gp",)


def recipe(folder: Path, rule: str) -> Path:
    return write_recipe(folder, rule=rule, sharpness='perturbation = "global"' if rule == "sam" else "", **SHAPE)


def torchrun(args: list[str], timeout: int = 600) -> subprocess.CompletedProcess:
    """``python -m torch.distributed.run --standalone --nproc-per-node 2 ARGS`` in its own process group."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", *args]
    return run(cmd, timeout)


def run(cmd: list[str], timeout: int = 600) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail(f"timed out after {timeout} s: {' '.join(cmd)}\n{out[-3000:]}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, "")


def result(run_dir: Path) -> dict:
    rows = list(csv.DictReader((run_dir / "metrics.csv").open()))
    return {"weights": load_file(run_dir / "model.safetensors"), "rows": rows,
            "summary": json.loads((run_dir / "summary.json").read_text())}


def assert_close(a: dict, b: dict, tol: float = 1e-5) -> None:
    assert a["weights"].keys() == b["weights"].keys()
    for k in a["weights"]:
        torch.testing.assert_close(a["weights"][k], b["weights"][k], rtol=tol, atol=tol, msg=k)
    assert len(a["rows"]) == len(b["rows"])
    for ra, rb in zip(a["rows"], b["rows"]):
        assert ra.keys() == rb.keys()
        for k in ra:
            if k in ("seconds", *LOCAL_DIAGNOSTICS) or not ra[k]:
                continue
            assert float(ra[k]) == pytest.approx(float(rb[k]), rel=tol, abs=tol), k
    for part in ("test", "train_eval", "generalization_gap"):
        for k, v in a["summary"][part].items():
            assert v == pytest.approx(b["summary"][part][k], rel=tol, abs=tol, nan_ok=True), (part, k)
    assert a["summary"]["best_epoch"] == b["summary"]["best_epoch"]
    assert a["summary"]["steps"] == b["summary"]["steps"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """For none and sam: a one-process run (in this process) and a two-process run (one launch)."""
    folder = tmp_path_factory.mktemp("ddp")
    out: dict[str, Path] = {}
    args: list[str] = []
    for rule in ("none", "sam"):
        path = recipe(folder, rule)
        trainer(path, folder / f"{rule}-1").fit()
        out[f"{rule}-1"], out[f"{rule}-2"] = folder / f"{rule}-1", folder / f"{rule}-2"
        args += [str(path), str(folder / f"{rule}-2")]
    done = torchrun([str(ROOT / "tests" / "training" / "ddp_driver.py"), *args])
    assert done.returncode == 0, done.stdout[-3000:]
    out["sam-recipe"] = folder / "tiny-sam.toml"
    return out


@pytest.mark.parametrize("rule", ["none", "sam"])
def test_two_processes_equal_one_at_the_same_global_batch(runs: dict[str, Path], rule: str) -> None:
    one, two = result(runs[f"{rule}-1"]), result(runs[f"{rule}-2"])
    assert_close(one, two)
    env = json.loads((runs[f"{rule}-2"] / "environment.json").read_text())
    assert env["world_size"] == 2 and env["backend"] == "gloo"
    assert not list(runs[f"{rule}-2"].rglob("*.tmp"))  # one writer: no torn or doubled files
    log = (runs[f"{rule}-2"] / "log.txt").read_text()
    assert log.count(" epoch 1: ") == 1  # rank 0 alone logs


def test_kill_9_of_one_rank_then_resume_ends_where_the_uninterrupted_run_ends(runs: dict[str, Path],
                                                                                 tmp_path: Path) -> None:
    out = tmp_path / "run"
    # rank 1 dies after step 1 of epoch 2; rank 0 is stopped by torchrun (no checkpoint of its own)
    killed = torchrun([str(ROOT / "tests" / "training" / "ddp_driver.py"), "--kill", "1:1:1",
                       str(runs["sam-recipe"]), str(out)])
    assert killed.returncode != 0
    assert (out / "checkpoints" / "last.pt").is_file() and not (out / "summary.json").exists()
    assert len((out / "metrics.csv").read_text().splitlines()) == 2  # header and epoch 1
    resumed = run([sys.executable, "-m", "sharpreg", "resume", str(out), "--no-progress"])
    assert resumed.returncode == 0, resumed.stdout[-3000:]
    assert_close(result(out), result(runs["sam-2"]), tol=1e-6)
    events = [json.loads(line)["event"] for line in (out / "events.jsonl").read_text().splitlines()]
    assert events.count("resume") == 1 and events.count("start") == 1


def test_the_comparison_sees_a_small_difference(runs: dict[str, Path]) -> None:
    """The check above fails on wrong input: one weight off by 1e-4, or another rule's run."""
    one = result(runs["sam-1"])
    off = {**one, "weights": dict(one["weights"])}
    name = next(iter(off["weights"]))
    off["weights"][name] = off["weights"][name].clone()
    off["weights"][name].view(-1)[0] += 1e-4
    with pytest.raises(AssertionError):
        assert_close(one, off)
    with pytest.raises(AssertionError):
        assert_close(one, result(runs["none-1"]))


#: rules that skip passes, set so that a 4-step run has both kinds of step (2 passes and 1)
SKIPPING = {"looksam": 'perturbation = "global"\nk = 2', "rst": 'perturbation = "global"\np = 0.5\np_start = 0.5\nseed = 2'}


def test_rules_that_skip_passes_on_two_processes_equal_one(tmp_path: Path) -> None:
    """LookSAM's stored component and RST's draws are the same on every process (global perturbation):
    the two-process run equals the one-process run, on full steps and on the steps that skip a pass."""
    args = []
    for rule, keys in SKIPPING.items():
        path = write_recipe(tmp_path, rule=rule, sharpness=keys, **SHAPE)
        trainer(path, tmp_path / f"{rule}-1").fit()
        args += [str(path), str(tmp_path / f"{rule}-2")]
    done = torchrun([str(ROOT / "tests" / "training" / "ddp_driver.py"), *args])
    assert done.returncode == 0, done.stdout[-3000:]
    for rule in SKIPPING:
        one, two = result(tmp_path / f"{rule}-1"), result(tmp_path / f"{rule}-2")
        assert [float(r["passes_per_step"]) for r in two["rows"]] == [1.5, 1.5]  # both kinds of step ran
        assert_close(one, two)
