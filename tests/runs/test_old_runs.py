"""Run folders written by earlier sharpreg versions stay readable: summary, metrics, predictions, and the
commands that read them (report, compare, the sweep aggregate)."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest

from sharpreg.cli import main
from sharpreg.runs import RunFolder, RunState
from sharpreg.study.aggregate import collect

OLD = Path(__file__).with_name("fixtures") / "main-4d9bc07"


@pytest.fixture
def old_run(tmp_path: Path) -> Path:
    return Path(shutil.copytree(OLD, tmp_path / "old-run"))


def test_the_summary_of_an_old_run_reads_into_the_typed_model(old_run: Path) -> None:
    run = RunFolder.open(old_run)
    assert run.state() is RunState.DONE
    s = run.read_summary()
    raw = json.loads((old_run / "summary.json").read_text())
    assert s.test == raw["test"] and s.test_ci == raw["test_ci"] and s.generalization_gap == raw["generalization_gap"]
    assert (s.best_epoch, s.epochs_run, s.rule, s.arch, s.seed, s.ci.resamples) == (1, 2, "sam", "test_resnet", 3, 20)
    assert s.sharpness["sharpness"].last == pytest.approx(raw["sharpness"]["sharpness"]["last"])
    assert s.model_dump()["test"] == raw["test"]  # written back, the same content
    assert [r["epoch"] for r in run.read_metrics()] == [1, 2] and run.epochs_done() == 2
    pred, classes = run.read_predictions()
    assert classes == ["benign", "malignant"] and len(pred) == raw["test_n"]
    assert run.classes() == ["benign", "malignant"]


def test_report_compare_and_aggregate_read_an_old_run(old_run: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    assert main(["report", str(old_run)]) == 0
    assert "best epoch 1 by val auroc" in capsys.readouterr().out
    assert sorted(p.name for p in (old_run / "plots").iterdir()) == ["confusion_matrix.png", "learning_curves.png",
                                                                     "reliability.png", "roc.png", "sharpness.png"]
    twin = Path(shutil.copytree(OLD, tmp_path / "twin"))
    assert main(["compare", str(old_run), str(twin), "--csv", "--no-plot"]) == 0
    table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["rule"] for r in table] == ["sam", "sam"] and float(table[0]["auroc"]) == pytest.approx(1 / 3)
    shutil.copytree(OLD, tmp_path / "sweep" / "runs" / "sam_seed3")
    records, _ = collect(tmp_path / "sweep")
    assert [(r.method, r.model, r.seed) for r in records] == [("sam", "test_resnet", "3")]
    assert main(["resume", str(old_run)]) == 2  # finished: nothing to resume
