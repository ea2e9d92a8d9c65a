"""`sharpreg compare`, `report`, `evaluate` and `resume` on small real runs."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from sharpreg.cli import main
from sharpreg.errors import RunError

from ..training.tiny import trainer, write_recipe

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("runs")
    out = []
    for rule in ("none", "sam"):
        recipe = write_recipe(folder, rule=rule, epochs=2)
        trainer(recipe, folder / f"run-{rule}").fit()
        out.append(folder / f"run-{rule}")
    return out


def test_compare_table_csv_markdown_and_plot(runs: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    plot = tmp_path / "cmp.png"
    assert main(["compare", *map(str, runs), "--csv", "--plot", str(plot)]) == 0
    table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["rule"] for r in table] == ["none", "sam"]
    for row, run in zip(table, runs):
        summary = json.loads((run / "summary.json").read_text())
        assert float(row["auroc"]) == pytest.approx(summary["test"]["auroc"])
        assert float(row["auroc_low"]) == pytest.approx(summary["test_ci"]["auroc"][0])
        assert float(row["passes_per_step"]) == {"none": 1, "sam": 2}[row["rule"]]
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["compare", *map(str, runs), "--markdown", "--no-plot", "--metrics", "auroc,accuracy"]) == 0
    md = capsys.readouterr().out
    assert md.startswith("| run | model | rule |") and "run-sam" in md and "| accuracy |" in md.splitlines()[0] + " |"
    assert main(["compare", str(runs[0]), "--metrics", "nonsense", "--no-plot"]) == 2
    capsys.readouterr()
    assert main(["compare", *map(str, runs), "--no-plot"]) == 0
    terminal = capsys.readouterr().out
    assert "–" in terminal and "[dim]" not in terminal and "[/]" not in terminal  # intervals styled, not tagged


def test_compare_refuses_an_unfinished_run(runs: list[Path], tmp_path: Path) -> None:
    (tmp_path / "half").mkdir()
    assert main(["compare", str(runs[0]), str(tmp_path / "half"), "--no-plot"]) == 2


def test_report_redraws_the_plots(runs: list[Path], capsys: pytest.CaptureFixture) -> None:
    plots = runs[1] / "plots"
    for p in plots.iterdir():
        p.unlink()
    assert main(["report", str(runs[1])]) == 0
    assert sorted(p.name for p in plots.iterdir()) == ["confusion_matrix.png", "learning_curves.png",
                                                        "reliability.png", "roc.png", "sharpness.png"]
    assert "best epoch" in capsys.readouterr().out


def _image_folder(root: Path, classes: list[str]) -> None:
    from PIL import Image

    from sharpreg_plugins.datasets.phantom import render

    for cls in classes:
        (root / cls).mkdir(parents=True)
        for i in range(5):
            a = render(cls.lower() if cls.lower() in ("benign", "malignant") else "normal", 900 + i, 48, 0.35, 11)
            Image.fromarray((a * 255).astype(np.uint8)).save(root / cls / f"{cls}-{i}.png")


def test_evaluate_on_an_image_folder(runs: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    _image_folder(tmp_path / "lab", ["Malignant", "Benign"])  # other order and case: matched by name
    data = tmp_path / "lab.toml"
    data.write_text('schema_version = 1\n[data]\nname = "image_folder"\nroot = "lab"\n')
    assert main(["evaluate", str(runs[1]), "--data", str(data), "--set", "eval.bootstrap=20"]) == 0
    assert "auroc" in capsys.readouterr().out
    out = runs[1] / "evaluations" / "lab"
    record = json.loads((out / "metrics.json").read_text())
    assert record["n"] == 10 and record["class_map"] == {"Benign": "benign", "Malignant": "malignant"}
    assert record["data"]["image_size"] == 32  # preprocessing follows the trained run
    rows = list(csv.DictReader((out / "predictions.csv").open()))
    y = [r["class"] == "malignant" for r in rows]
    assert record["metrics"]["auroc"] == pytest.approx(roc_auc_score(y, [float(r["prob_malignant"]) for r in rows]))
    assert (out / "plots" / "roc.png").is_file() and (out / "plots" / "confusion_matrix.png").is_file()
    assert "| lab | image_folder | 10 |" in (runs[1] / "MODEL_CARD.md").read_text()  # the card lists it
    assert main(["evaluate", str(runs[1]), "--data", str(data), "--set", "eval.bootstrap=0"]) == 0
    assert (runs[1] / "evaluations" / "lab-2" / "metrics.json").is_file()  # never overwritten


def test_evaluate_rejects_mismatched_classes_and_preprocessing(runs: list[Path], tmp_path: Path,
                                                               capsys: pytest.CaptureFixture) -> None:
    _image_folder(tmp_path / "other", ["benign", "normal"])
    data = tmp_path / "other.toml"
    data.write_text('schema_version = 1\n[data]\nname = "image_folder"\nroot = "other"\n')
    assert main(["evaluate", str(runs[0]), "--data", str(data)]) == 2
    assert "class 'normal' of the data set is not a class of the trained model" in capsys.readouterr().err
    sized = tmp_path / "sized.toml"
    sized.write_text('schema_version = 1\n[data]\nname = "image_folder"\nroot = "other"\nimage_size = 64\n[train]\nepochs = 1\n')
    assert main(["evaluate", str(runs[0]), "--data", str(sized)]) == 2
    err = capsys.readouterr().err
    assert "sized.toml:5 data.image_size" in err and "sized.toml:6 train" in err


def test_existing_run_folder_is_never_overwritten(runs: list[Path]) -> None:
    from sharpreg.recipe import load_recipe
    from sharpreg.runs import RunFolder

    recipe = load_recipe(runs[0] / "resolved.toml")
    with pytest.raises(RunError, match="already exists"):
        RunFolder.create(recipe, out=runs[0])
    assert main(["resume", str(runs[0].parent / "nowhere")]) == 2
