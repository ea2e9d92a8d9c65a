"""The end of a run: validation predictions, the threshold chosen on them, test metrics at it, the
reliability diagram; and a run that never touches its test split (``eval.score_test = false``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sharpreg.runs import RunFolder

from .tiny import trainer, write_recipe


def _youden_by_brute_force(y: np.ndarray, s: np.ndarray) -> float:
    ts = sorted(set(s.tolist()), reverse=True)
    j = [((s >= t) & y).sum() / y.sum() - ((s >= t) & ~y).sum() / (~y).sum() for t in ts]
    return next(t for t, v in zip(ts, j) if v >= max(j) - 1e-9)


@pytest.mark.slow
def test_threshold_is_chosen_on_validation_and_applied_to_test(tmp_path: Path) -> None:
    recipe = write_recipe(tmp_path, rule="none", epochs=2)
    summary = trainer(recipe, tmp_path / "run").fit()
    run = RunFolder(tmp_path / "run")
    val, classes = run.read_predictions("val")
    test, _ = run.read_predictions("test")
    pos = classes.index("malignant")
    assert summary.threshold is not None and summary.threshold.rule == "youden"
    assert summary.threshold.value == pytest.approx(_youden_by_brute_force(val.labels == pos, val.probs[:, pos]))
    assert summary.threshold.val_n == len(val)
    called, true = test.probs[:, pos] >= summary.threshold.value, test.labels == pos
    assert summary.test["sensitivity_at_threshold"] == pytest.approx((called & true).sum() / true.sum())
    assert summary.test["specificity_at_threshold"] == pytest.approx((~called & ~true).sum() / (~true).sum())
    assert summary.test["brier"] == pytest.approx(np.mean((test.probs[:, pos] - true) ** 2))
    assert "sensitivity_at_threshold" in summary.test_ci
    assert run.plot("reliability").stat().st_size > 1000
    on_disk = json.loads((run.path / run.SUMMARY).read_text())
    assert on_disk["threshold"]["value"] == summary.threshold.value


@pytest.mark.slow
def test_a_run_without_test_scoring_never_loads_its_test_images(tmp_path: Path) -> None:
    recipe = write_recipe(tmp_path, rule="none", epochs=1)
    t = trainer(recipe, tmp_path / "run", overrides=["eval.score_test=false"])
    t.setup()
    asked: list[str] = []
    dataset = t.parts.dm.dataset

    def recording(split, **kwargs):
        asked.append(split)
        return dataset(split, **kwargs)

    t.parts.dm.dataset = recording
    summary = t.fit()
    assert "test" not in asked and {"train", "val"} <= set(asked)
    assert summary.test == {} and summary.test_n is None and summary.best_val is not None
    run = RunFolder(tmp_path / "run")
    assert run.read_predictions("test") is None and run.read_predictions("val") is not None
