"""[tune]: tuning runs per group and candidate, the same budget for every method, the choice made from
validation only (a tuning run with a test result is refused), and main runs with the chosen value."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pytest

from sharpreg.errors import RecipeError, RunError
from sharpreg.study.grid import load_grid
from sharpreg.study.sweep import SweepOptions, plan, run_sweep
from sharpreg.study.tuning import FORCED, select, validation_value
from sharpreg.runs import RunFolder

FAKE = Path(__file__).with_name("fake_run.py")
KFOLD = ('[set]\n"train.epochs" = 1\n"data.split.method" = "kfold"\n"data.split.folds" = 2\n"data.split.seed" = 0\n'
         '[grid]\n"data.split.fold" = [0, 1]\n"train.seed" = [0, 1]\n'
         '[[variants]]\nlabel = "none"\n"sharpness.name" = "none"\n'
         '[[variants]]\nlabel = "sam"\n"sharpness.name" = "sam"\n')
TUNE = ('[tune]\nseeds = [0]\n[tune.candidates.none]\n"optimizer.lr" = { times = [1.0, 2.0] }\n'
        '[tune.candidates.sam]\n"sharpness.rho" = [0.05, 0.1]\n')


def fake_command(action, recipe, overrides, run_dir):
    return [sys.executable, str(FAKE), action, str(run_dir), *overrides]


def test_tuning_runs_per_group_candidate_and_seed(write_grid):
    grid = load_grid(write_grid(KFOLD + TUNE))
    tuning = grid.tuning
    # 2 variants x 2 folds (each fold chooses on its own validation split) x 2 candidates x 1 tuning seed
    assert len(tuning.runs) == 8 and len(tuning.values) == 4
    ids = sorted(t.combo.id for t in tuning.runs)
    assert "sam_fold1_rho0.1_seed0" in ids and "none_fold0_lr0.002_seed0" in ids  # quick start lr 0.001 x 2
    run = next(t for t in tuning.runs if t.combo.id == "sam_fold1_rho0.1_seed0")
    assert run.combo.overrides()[-2:] == ["eval.score_test=false", "eval.bootstrap=0"]  # last: nothing overrides them
    assert run.combo.values["data.split.fold"] == 1 and run.combo.values["train.seed"] == 0
    assert sorted(len(m) for m in tuning.members.values()) == [2, 2, 2, 2]  # each group serves its two seeds
    assert FORCED == {"eval.score_test": False, "eval.bootstrap": 0}


@pytest.mark.parametrize("tune, expected", [
    ('[tune.candidates.none]\n"optimizer.lr" = [0.1, 0.2]\n', "variant 'sam' has no candidates"),
    ('[tune.candidates.none]\n"optimizer.lr" = [0.1, 0.2]\n[tune.candidates.sam]\n"sharpness.rho" = [0.1]\n',
     "the same number of candidates (none 2, sam 1)"),
    ('[tune.candidates.none]\n"eval.threshold" = ["youden"]\n[tune.candidates.sam]\n"sharpness.rho" = [0.1]\n',
     "eval.threshold cannot be tuned"),
    ('[tune.candidates.none]\n"data.split.val" = [0.2]\n[tune.candidates.sam]\n"sharpness.rho" = [0.1]\n',
     "data.split.val cannot be tuned"),
    ('[tune.candidates.none]\n"optimizer.lr" = [0.1]\n"optimizer.weight_decay" = [0.0]\n[tune.candidates.sam]\n'
     '"sharpness.rho" = [0.1]\n', "must name exactly one key"),
    ('[tune.candidates.none]\n"optimizer.lr" = [0.1]\n[tune.candidates.sam]\n"sharpness.rho" = [0.1]\n'
     '[tune.candidates.asam]\n"sharpness.rho" = [0.1]\n', "tune.candidates.asam: is not the label of a variant"),
    ('[tune.set]\n"data.split.fold" = 0\n[tune.candidates.none]\n"optimizer.lr" = [0.1]\n[tune.candidates.sam]\n'
     '"sharpness.rho" = [0.1]\n', "may not change the split or the scoring"),
    ('[tune.candidates.none]\n"sharpness.name" = { times = [1.0] }\n[tune.candidates.sam]\n"sharpness.rho" = [0.1]\n',
     "needs a number to multiply"),
])
def test_tuning_mistakes(write_grid, tune, expected):
    with pytest.raises(RecipeError, match="grid.toml") as err:
        load_grid(write_grid(KFOLD + "[tune]\n" + tune), validate_recipes=False)
    assert expected in str(err.value)


def test_k_fold_tuning_needs_a_fixed_split_seed(write_grid):
    with pytest.raises(RecipeError, match="data.split.seed must be fixed"):
        load_grid(write_grid(KFOLD.replace('"data.split.seed" = 0\n', "") + TUNE), validate_recipes=False)


def test_the_sweep_tunes_first_then_runs_each_main_run_with_its_groups_choice(write_grid, tmp_path):
    grid = load_grid(write_grid(KFOLD + TUNE))
    out = tmp_path / "sweep"
    m = run_sweep(grid, out, SweepOptions(workers=2, progress=False, report=False), command_factory=fake_command)
    tuned = (out / "tune" / "calls.txt").read_text().splitlines()  # the fake logs beside its runs folder
    assert sorted(line.split()[1] for line in tuned) == sorted(t.combo.id for t in grid.tuning.runs)
    assert len((out / "calls.txt").read_text().splitlines()) == 8
    for t in grid.tuning.runs:  # tuning runs wrote no test result and live apart from the main runs
        run = RunFolder(out / "tune" / "runs" / t.combo.id)
        assert json.loads((run.path / "summary.json").read_text())["test"] == {}
    runs = m.data["runs"]
    assert len(runs) == 8 and all(r["status"] == "done" for r in runs.values())
    # the fake's validation AUROC is highest for rho 0.1 and lr 0.002 (its test AUROC would favour others)
    assert runs["sam_fold1_seed1"]["values"]["sharpness.rho"] == 0.1
    assert runs["none_fold0_seed0"]["values"]["optimizer.lr"] == 0.002
    record = json.loads((out / "tune" / "selection.json").read_text())
    assert record["metric"] == "auroc" and len(record["groups"]) == 4
    rows = list(csv.DictReader((out / "tune" / "selection.csv").open()))
    assert len(rows) == 8 and sum(r["chosen"] == "True" for r in rows) == 4
    assert all(t.action == "skip" for t in plan(grid, out, tuning=True))  # a second sweep call reruns nothing


def test_a_tuning_run_with_any_test_result_is_refused(write_grid, tmp_path):
    grid = load_grid(write_grid(KFOLD + TUNE))
    out = tmp_path / "sweep"
    run_sweep(grid, out, SweepOptions(progress=False, report=False), command_factory=fake_command)
    run = RunFolder(out / "tune" / "runs" / "sam_fold0_rho0.05_seed0")
    assert validation_value(run, "auroc") == pytest.approx(0.6)
    with pytest.raises(RunError, match="selected its best epoch by auroc, but \\[tune\\] selects by loss"):
        validation_value(run, "loss")
    summary = json.loads((run.path / "summary.json").read_text())
    (run.path / "summary.json").write_text(json.dumps(summary | {"test": {"auroc": 0.99}}))
    with pytest.raises(RunError, match="tuning run with test results"):
        select(grid, out)
    (run.path / "summary.json").write_text(json.dumps(summary))
    (run.path / "predictions").mkdir()
    (run.path / "predictions" / "test.csv").write_text("id,label,class,predicted\n")
    with pytest.raises(RunError, match="tuning run with test results"):
        select(grid, out)

