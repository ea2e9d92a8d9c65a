"""The GPU acceptance script's logic, run small on a CPU (--device cpu --smoke): every check it makes
on a GPU runs here too, and its report carries every item the issue asks for."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_acceptance_script_runs_every_check_on_a_cpu(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env.pop("SHARPREG_DATA", None)  # the smoke run uses the phantom
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_acceptance.py"), "--device", "cpu",
                           "--smoke", "--json", str(out)], capture_output=True, text=True, timeout=900, env=env,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert {"bf16", "fp16", "fp16_overflow", "restore_bit_exact_20_steps"} <= set(report["precision"])
    assert report["precision"]["fp16_overflow"]["weights_unchanged"] is True
    ratio = report["resnet50_224_bf16"]
    assert ratio["none"]["throughput_vs_none"] == 1.0 and 0 < ratio["sam"]["throughput_vs_none"] < 1
    assert ratio["sam"]["passes_per_step"] == 2 and ratio["none"]["images_per_s"] > 0
    rules = report["every_rule_one_epoch"]
    assert {"none", "sam", "asam", "gsam", "wsam", "crsam"} <= set(rules) and all(r["ok"] for r in rules.values())
    assert report["torchrun_one_process"]["ok"] and report["torchrun_one_process"]["backend"] == "gloo"
    assert report["augmentation_on_device"]["max_abs_diff"] == 0.0  # on the CPU: bit for bit
    assert "SAM goal >= 0.48" in done.stdout


def test_the_recipes_of_the_full_run_are_valid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The GPU run trains ResNet-50 at 224 px on BUSI (when present) and on the phantom otherwise: both
    recipes load, so the GPU run does not fail on a recipe the CPU run never writes."""
    import importlib.util

    import torch

    from sharpreg.recipe import load_recipe

    spec = importlib.util.spec_from_file_location("gpu_acceptance", ROOT / "benchmarks" / "gpu_acceptance.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cuda = torch.device("cuda")
    (tmp_path / "data" / "busi").mkdir(parents=True)
    for data_root, data in ((tmp_path / "none", "phantom"), (tmp_path / "data", "busi")):
        monkeypatch.setenv("SHARPREG_DATA", str(data_root))
        recipe = load_recipe(module.write_recipe(tmp_path, "sam", False, cuda))
        assert (recipe.data.name, recipe.data.params.image_size, recipe.model.params.arch) == (data, 224, "resnet50")
        assert (recipe.train.precision, recipe.train.device, recipe.train.batch_size) == ("bf16", "cuda", 32)
