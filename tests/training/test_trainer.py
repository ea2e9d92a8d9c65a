"""The trainer on a tiny phantom run: files left behind, non-finite losses, trackers, disk checks, schedules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from sharpreg.errors import RunError, SharpregError
from sharpreg.recipe.core import TrainConfig
from sharpreg.runs.checkpoint import load_checkpoint
from sharpreg.training.setup import lr_factor
from sharpreg.training.trainer import NonFiniteLoss

from .tiny import trainer, write_recipe

RUN_FILES = ["recipe.toml", "resolved.toml", "overrides.toml", "environment.json", "split.json", "metrics.csv",
             "events.jsonl", "log.txt", "checkpoints/last.pt", "checkpoints/best.pt", "model.safetensors",
             "plots/learning_curves.png", "plots/confusion_matrix.png", "plots/roc.png", "plots/sharpness.png",
             "summary.json", "predictions/test.csv"]


def poisoned(trainer_obj, at: set[tuple[int, int]]):
    """A loss that is NaN at the chosen (epoch, step) pairs (counted from 0)."""
    ce = nn.CrossEntropyLoss()
    state = {"step": 0}

    def loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        out = ce(logits, y)
        return out * float("nan") if state["pos"] in at else out

    def hook(epoch: int, step: int) -> None:
        state["pos"] = (epoch, step) if step < trainer_obj.steps_per_epoch else (epoch + 1, 0)

    state["pos"] = (0, 0)
    trainer_obj.after_step = hook
    return loss


@pytest.mark.slow
def test_nonfinite_skip_counts_and_run_leaves_every_file(tmp_path: Path) -> None:
    recipe = write_recipe(tmp_path, rule="sam", epochs=2)
    t = trainer(recipe, tmp_path / "run", overrides=['train.on_nonfinite="skip"'])
    t.setup()
    t.parts.loss_fn = poisoned(t, {(0, 1), (1, 2)})
    summary = t.fit()
    run = tmp_path / "run"
    for f in RUN_FILES:
        assert (run / f).is_file(), f
    assert summary.skipped_steps == 2
    rows = (run / "metrics.csv").read_text().splitlines()
    col = rows[0].split(",").index("skipped_steps")
    assert [r.split(",")[col] for r in rows[1:]] == ["1", "1"]
    on_disk = json.loads((run / "summary.json").read_text())
    for key in ("auroc", "balanced_accuracy", "sensitivity", "specificity", "ece"):
        lo, hi = on_disk["test_ci"][key]
        assert lo is None or lo <= on_disk["test"][key] <= hi
    assert set(on_disk["generalization_gap"]) >= {"accuracy", "auroc"}
    assert on_disk["sharpness"]["sharpness"]["last"] is not None and on_disk["passes_per_step"] == 2
    assert on_disk["best_epoch"] in (1, 2) and on_disk["seconds"] > 0
    env = json.loads((run / "environment.json").read_text())
    assert env["determinism"]["torch_deterministic_algorithms"] is True
    events = [json.loads(x)["event"] for x in (run / "events.jsonl").read_text().splitlines()]
    assert events.count("nonfinite") == 2


@pytest.mark.slow
def test_nonfinite_stop_keeps_the_last_good_checkpoint(tmp_path: Path) -> None:
    recipe = write_recipe(tmp_path, rule="none", epochs=3)
    t = trainer(recipe, tmp_path / "run")
    t.setup()
    t.parts.loss_fn = poisoned(t, {(1, 1)})
    with pytest.raises(NonFiniteLoss, match=r"epoch 2, step 2.*last\.pt \(end of epoch 1\).*on_nonfinite"):
        t.fit()
    ck = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert ck["position"] == {"epoch": 1, "step": 0, "partial": None}
    assert all(torch.isfinite(v).all() for v in ck["model"].values() if v.is_floating_point())
    assert not (tmp_path / "run" / "summary.json").exists()


def test_missing_tracker_package_is_a_clear_error(tmp_path: Path) -> None:
    recipe = write_recipe(tmp_path, epochs=1)
    t = trainer(recipe, tmp_path / "run", overrides=['train.loggers=["tensorboard"]'])
    import importlib.util

    if importlib.util.find_spec("tensorboard") is not None:
        pytest.skip("tensorboard is installed: its absence cannot be tested here")
    with pytest.raises(SharpregError, match=r"pip install 'sharpreg\[tensorboard\]'"):
        t.fit()


def test_full_disk_is_reported_before_training(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    recipe = write_recipe(tmp_path, rule="none", epochs=1)
    t = trainer(recipe, tmp_path / "run")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10**9, 10**9, 1000))
    with pytest.raises(RunError, match=r"MiB free"):
        t.fit()
    assert not (tmp_path / "run" / "metrics.csv").exists()


def test_learning_rate_schedules() -> None:
    def cfg(**kw) -> TrainConfig:
        return TrainConfig(**kw)

    c = cfg(scheduler="cosine", warmup_epochs=1, min_lr=0.1, epochs=3)
    assert [lr_factor(c, s, 30, 10, 1.0) for s in (0, 4, 9)] == pytest.approx([0.1, 0.5, 1.0])  # linear warm-up
    assert lr_factor(c, 10, 30, 10, 1.0) == pytest.approx(1.0)
    assert lr_factor(c, 20, 30, 10, 1.0) == pytest.approx(0.1 + 0.9 * 0.5)  # half-way through the cosine
    assert lr_factor(c, 30, 30, 10, 1.0) == pytest.approx(0.1)
    s = cfg(scheduler="step", step_epochs=2, step_gamma=0.5)
    assert [lr_factor(s, k, 100, 10, 1.0) for k in (0, 19, 20, 45)] == pytest.approx([1, 1, 0.5, 0.25])
    assert lr_factor(cfg(), 57, 100, 10, 1.0) == 1.0


@pytest.mark.slow
def test_model_selection_and_early_stopping(tmp_path: Path) -> None:
    recipe = write_recipe(tmp_path, rule="none", epochs=6, extra="")
    t = trainer(recipe, tmp_path / "run", overrides=["train.patience=2", "train.monitor='auroc'"])
    t.setup()
    real = t.evaluate
    scripted = iter([0.6, 0.7, 0.65, 0.66, 0.9, 0.9])

    def evaluate(split: str) -> dict[str, float]:
        out = real(split)
        return out | {"auroc": next(scripted)} if split == "val" else out

    t.evaluate = evaluate  # type: ignore[method-assign]
    summary = t.fit()
    assert summary.epochs_run == 4 and summary.stopped_early is True  # no gain in epochs 3 and 4
    assert summary.best_epoch == 2 and summary.best_val == pytest.approx(0.7)
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "best.pt")["epoch"] == 2


@pytest.mark.slow
def test_mlflow_tracker_gets_params_and_metrics(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.machinery
    import sys
    import types

    calls: dict[str, list] = {"params": [], "metrics": [], "end": []}
    fake = types.ModuleType("mlflow")
    fake.__spec__ = importlib.machinery.ModuleSpec("mlflow", None)
    fake.start_run = lambda **kw: calls.setdefault("start", []).append(kw)
    fake.log_params = lambda p: calls["params"].append(p)
    fake.log_metrics = lambda m, step: calls["metrics"].append((step, m))
    fake.log_artifact = lambda p: calls.setdefault("artifacts", []).append(p)
    fake.log_artifacts = lambda p, artifact_path=None: calls.setdefault("artifacts", []).append(p)
    fake.end_run = lambda: calls["end"].append(True)
    monkeypatch.setitem(sys.modules, "mlflow", fake)
    recipe = write_recipe(tmp_path, rule="none", epochs=1)
    trainer(recipe, tmp_path / "run", overrides=['train.loggers=["mlflow"]']).fit()
    params = {k: v for batch in calls["params"] for k, v in batch.items()}
    assert params["optimizer.lr"] == 0.05 and params["sharpness.name"] == "none"
    assert calls["metrics"][0][0] == 1 and "val_auroc" in calls["metrics"][0][1]
    assert calls["end"] == [True] and any(str(p).endswith("summary.json") for p in calls["artifacts"])
