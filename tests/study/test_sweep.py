"""The sweep runner: run folders, manifest, skip finished, resume or restart interrupted, failures,
submitit's local executor. Runs use a stand-in for `sharpreg run` (fake_run.py) that takes milliseconds."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from sharpreg.cli import main
from sharpreg.study import sweep as sweep_mod
from sharpreg.study.grid import load_grid
from sharpreg.study.sweep import SweepOptions, plan, run_command, run_sweep

FAKE = Path(__file__).with_name("fake_run.py")
GRID = '[set]\n"train.epochs" = 1\n[grid]\n"sharpness.name" = ["none", "sam"]\n"train.seed" = [0, 1]\n'


def fake_command(action: str, recipe: Path, overrides: list[str], run_dir: Path) -> list[str]:
    return [sys.executable, str(FAKE), action, str(run_dir), *overrides]


def calls(out: Path) -> list[str]:
    f = out / "calls.txt"
    return f.read_text().splitlines() if f.is_file() else []


def test_real_commands_are_sharpreg_run_and_resume(tmp_path):
    cmd = run_command("run", Path("r.toml"), ['sharpness.name="sam"'], tmp_path / "x")
    assert cmd[1:] == ["-m", "sharpreg.cli", "run", "r.toml", "--set", 'sharpness.name="sam"', "--out",
                       str(tmp_path / "x"), "--no-progress"]
    assert run_command("resume", Path("r.toml"), [], tmp_path / "x")[3:5] == ["resume", str(tmp_path / "x")]


def test_sweep_runs_every_combination_in_parallel_then_skips_finished_runs(write_grid, tmp_path):
    grid = load_grid(write_grid(GRID))
    out = tmp_path / "sweep"
    m = run_sweep(grid, out, SweepOptions(workers=2, threads=3, progress=False), command_factory=fake_command)
    runs = m.data["runs"]
    assert sorted(runs) == ["none_seed0", "none_seed1", "sam_seed0", "sam_seed1"]
    assert all(r["status"] == "done" and r["attempts"] == 1 for r in runs.values())
    assert runs["sam_seed1"]["overrides"] == ['train.epochs=1', 'sharpness.name="sam"', 'train.seed=1']
    assert sorted(calls(out)) == sorted(f"run {r} threads=3" for r in runs)  # OMP_NUM_THREADS per run
    on_disk = json.loads((out / "sweep.json").read_text())
    assert on_disk["baseline"] == "none" and len(on_disk["sessions"]) == 1 and on_disk["wall_seconds"] >= 0
    assert (out / "grid.toml").is_file() and (out / "logs" / "sam_seed0.log").is_file()
    # a second call finds everything finished and runs nothing
    run_sweep(grid, out, SweepOptions(progress=False), command_factory=fake_command)
    assert len(calls(out)) == 4


def test_runs_are_planned_seed_major(write_grid, tmp_path):
    grid = load_grid(write_grid('[grid]\n"sharpness.name" = ["none", "sam"]\n"train.seed" = [10, 2]\n'))
    assert [t.id for t in plan(grid, tmp_path / "sweep")] == ["none_seed2", "sam_seed2", "none_seed10", "sam_seed10"]


def test_interrupted_runs_are_resumed_or_restarted_and_failures_recorded(write_grid, tmp_path):
    grid = load_grid(write_grid(GRID))
    out = tmp_path / "sweep"
    runs = out / "runs"
    # none_seed0: finished; none_seed1: interrupted with a checkpoint; sam_seed0: interrupted before one
    for rid in ("none_seed0", "none_seed1", "sam_seed0"):
        (runs / rid).mkdir(parents=True)
        (runs / rid / "resolved.toml").write_text("")
    (runs / "none_seed0" / "summary.json").write_text(json.dumps({"test": {"auroc": 0.5}, "rule": "none", "seed": 0}))
    (runs / "none_seed1" / "checkpoints").mkdir()
    (runs / "none_seed1" / "checkpoints" / "last.pt").write_bytes(b"x")
    (out / "FAIL").write_text("sam_seed1")
    actions = {t.id: t.action for t in plan(grid, out)}
    assert actions == {"none_seed0": "skip", "none_seed1": "resume", "sam_seed0": "restart", "sam_seed1": "run"}
    m = run_sweep(grid, out, SweepOptions(workers=2, progress=False, report=False), command_factory=fake_command)
    assert sorted(calls(out)) == ["resume none_seed1 threads=1", "run sam_seed0 threads=1", "run sam_seed1 threads=1"]
    r = m.data["runs"]
    assert r["none_seed0"]["status"] == "done" and r["none_seed0"]["attempts"] == 0
    assert r["none_seed1"]["status"] == "done" and "resumed" in r["none_seed1"]["note"]
    assert r["sam_seed0"]["status"] == "done" and "restarted" in r["sam_seed0"]["note"]
    assert (out / "stale" / "sam_seed0-1" / "resolved.toml").is_file()  # the old folder is kept aside
    assert r["sam_seed1"]["status"] == "failed" and r["sam_seed1"]["returncode"] == 1


def test_a_failed_resume_falls_back_to_a_fresh_start(tmp_path):
    run_dir = tmp_path / "sweep" / "runs" / "a"
    (run_dir / "checkpoints").mkdir(parents=True)

    def factory(action, recipe, overrides, rd):
        if action == "resume":
            return [sys.executable, "-c", "raise SystemExit(2)"]
        return fake_command(action, recipe, overrides, rd)

    spec = {"id": "a", "overrides": [], "run_dir": str(run_dir), "log": str(tmp_path / "a.log"), "action": "resume",
            "recipe": "r.toml", "threads": 1}
    result = sweep_mod.execute_task(spec, factory)
    assert result["returncode"] == 0 and result["action"] == "restart" and "resume failed (exit 2)" in result["note"]
    assert (run_dir / "summary.json").is_file()


def test_a_changed_grid_does_not_reuse_a_sweep_folder(write_grid, tmp_path):
    out = tmp_path / "sweep"
    run_sweep(load_grid(write_grid(GRID)), out, SweepOptions(progress=False), command_factory=fake_command)
    changed = load_grid(write_grid(GRID.replace('"train.epochs" = 1', '"train.epochs" = 2'), name="g2.toml"))
    with pytest.raises(Exception, match="other settings"):
        run_sweep(changed, out, SweepOptions(progress=False), command_factory=fake_command)


def test_submitit_local_executor(write_grid, tmp_path):
    pytest.importorskip("submitit")
    grid = load_grid(write_grid('[set]\n"train.epochs" = 1\n[grid]\n"sharpness.name" = ["none", "sam"]\n'))
    out = tmp_path / "sweep"
    m = run_sweep(grid, out, SweepOptions(executor="submitit-local", threads=2, progress=False),
                  command_factory=fake_command)
    assert all(r["status"] == "done" and r.get("job_id") for r in m.data["runs"].values())
    assert sorted(calls(out)) == ["run none threads=2", "run sam threads=2"]


def test_cli_dry_run_and_report(write_grid, tmp_path, capsys, monkeypatch):
    path = write_grid(GRID)
    out = tmp_path / "sweep"
    assert main(["sweep", str(path), "--dry-run", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "4 runs" in text and "sam_seed1" in text and not out.exists()
    run_sweep(load_grid(path), out, SweepOptions(progress=False), command_factory=fake_command)
    assert main(["sweep", "report", str(out), "--no-plots"]) == 0
    md = (out / "report.md").read_text()
    assert "| sam | 2 | 0.755 ± 0.007 |" in md  # auroc 0.75, 0.76
    runs_csv = (out / "runs.csv").read_text().splitlines()
    assert "wall_seconds" in runs_csv[0] and len(runs_csv) == 5
    assert "**+0.050** (p 0.500, Holm 0.500)" in md  # two pairs, both +0.05: sign-flip p = 2/4 (one test: Holm = p)
    assert main(["sweep", "report"]) == 2
    assert main(["sweep", "report", str(tmp_path / "nothing")]) == 2
    assert main(["sweep", str(tmp_path / "missing.toml")]) == 2


def test_measure_table_measures_every_finished_run_once(write_grid, tmp_path):
    grid = load_grid(write_grid(GRID + "[measure]\nsamples = 4\niters = 2\n"))
    out = tmp_path / "sweep"
    run_sweep(grid, out, SweepOptions(workers=2, progress=False), command_factory=fake_command)
    assert sorted(c.split()[0] for c in calls(out)) == ["measure"] * 4 + ["run"] * 4
    args = json.loads((out / "runs" / "sam_seed0" / "sharpness.json").read_text())["args"]
    assert args[:4] == ["--samples", "4", "--iters", "2"]
    (out / "runs" / "none_seed1" / "sharpness.json").unlink()
    assert {t.id: t.action for t in plan(grid, out)} == {"none_seed0": "skip", "none_seed1": "measure",
                                                         "sam_seed0": "skip", "sam_seed1": "skip"}
    run_sweep(grid, out, SweepOptions(progress=False), command_factory=fake_command)
    assert len(calls(out)) == 9
    from sharpreg.study.report import write_report

    md = write_report(out, plots=False).read_text()
    assert "| sam | 2 | 5.00 ± 0.00 | 15.00 ± 0.00 |" in md  # λ_max and trace per method


def test_measure_subset_measures_only_the_declared_runs(write_grid, tmp_path):
    grid = load_grid(write_grid(GRID + '[measure]\nsamples = 4\nmax_rho = 0.02\n[measure.subset]\n"train.seed" = [1]\n'))
    out = tmp_path / "sweep"
    run_sweep(grid, out, SweepOptions(progress=False, report=False), command_factory=fake_command)
    assert sorted(c.split()[1] for c in calls(out) if c.startswith("measure")) == ["none_seed1", "sam_seed1"]
    args = json.loads((out / "runs" / "sam_seed1" / "sharpness.json").read_text())["args"]
    assert args[args.index("--max-rho") + 1] == "0.02"
