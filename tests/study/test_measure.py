"""`sharpreg sharpness RUN` on a tiny real run (phantom, 1 epoch, 12 images per class, 24 px, resnet10t)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from sharpreg.cli import main

from .conftest import QUICKSTART

TINY = ["train.epochs=1", "data.per_class=12", "data.image_size=24", "eval.bootstrap=0", "train.batch_size=8"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    from sharpreg.recipe import load_recipe
    from sharpreg.runs import RunFolder
    from sharpreg.training import Trainer

    out = tmp_path_factory.mktemp("measure") / "run"
    recipe = load_recipe(QUICKSTART, TINY)
    Trainer(recipe, RunFolder.create(recipe, out=out), progress=False).fit()
    return out


ARGS = ["--samples", "6", "--iters", "2", "--probes", "2", "--points", "3", "--batch-size", "6", "--avg-samples", "3",
        "--ascent-steps", "2"]


@pytest.mark.slow
def test_sharpness_of_a_trained_run_from_either_weights_file(tiny_run, tmp_path, capsys):
    assert main(["sharpness", str(tiny_run), *ARGS, "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    saved = json.loads((tiny_run / "sharpness.json").read_text())
    assert printed["lambda_max"] == saved["lambda_max"]
    assert saved["weights"] == "model.safetensors" and saved["samples"] == 6 and saved["split"] == "train"
    assert math.isfinite(saved["lambda_max"]) and math.isfinite(saved["trace"])
    assert 1 <= saved["lambda_max_iterations"] <= 2 and saved["trace_probes"] == 2
    assert len(saved["lambda_max_history"]) == saved["lambda_max_iterations"]
    land = saved["landscape"]
    assert land["alphas"] == [-1.0, 0.0, 1.0]
    assert land["loss"][1] == pytest.approx(saved["loss"], rel=1e-5)  # alpha = 0 is the trained weights
    assert (tiny_run / "plots" / "landscape.png").stat().st_size > 1000
    assert saved["weight_norm"] >= saved["weight_norm_matrices"] > 0
    assert (saved["adaptive_sharpness_avg_rho"], saved["adaptive_sharpness_max_rho"]) == (0.2, 0.002)
    assert len(saved["adaptive_sharpness_max_history"]) == 2 and saved["adaptive_sharpness_avg_samples"] == 3
    assert saved["adaptive_sharpness_max"] == max(saved["adaptive_sharpness_max_history"])
    assert set(saved["seconds_parts"]) == {"loss", "lambda_max", "trace", "adaptive_avg", "adaptive_max", "slice"}
    # without model.safetensors the best checkpoint is used: the same weights, subset and seed, the same numbers
    copy = tmp_path / "copy"
    shutil.copytree(tiny_run, copy)
    (copy / "model.safetensors").unlink()
    assert main(["sharpness", str(copy), *ARGS]) == 0
    fallback = json.loads((copy / "sharpness.json").read_text())
    assert fallback["weights"] == "checkpoints/best.pt"
    assert fallback["loss"] == pytest.approx(saved["loss"], rel=1e-6)
    assert fallback["lambda_max"] == pytest.approx(saved["lambda_max"], rel=1e-4)
    assert fallback["trace"] == pytest.approx(saved["trace"], rel=1e-4)
    assert fallback["adaptive_sharpness_max"] == pytest.approx(saved["adaptive_sharpness_max"], rel=1e-4, abs=1e-7)
    (copy / "checkpoints" / "best.pt").unlink()
    assert main(["sharpness", str(copy)]) == 2
    assert "no trained weights" in capsys.readouterr().err


def test_sharpness_refuses_bad_arguments_and_non_runs(tmp_path, capsys):
    assert main(["sharpness", str(tmp_path)]) == 2
    assert "not a sharpreg run folder" in capsys.readouterr().err
    assert main(["sharpness", str(tmp_path), "--samples", "0"]) == 2
    assert main(["sharpness", str(tmp_path), "--points", "1"]) == 2
    assert main(["sharpness", str(tmp_path), "--threads", "0"]) == 2
    assert main(["sharpness", str(tmp_path), "--max-rho", "0"]) == 2
    assert main(["sharpness", str(tmp_path), "--ascent-steps", "0"]) == 2
