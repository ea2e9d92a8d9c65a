"""The trainer's passes per step are the forward/backward passes the model actually ran."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from .tiny import trainer, write_recipe


@pytest.mark.slow
@pytest.mark.parametrize("rule,overrides", [
    ("looksam", ["sharpness.k=2"]),
    ("rst", ["sharpness.schedule='linear'", "sharpness.p_start=0.3", "sharpness.p=0.9"]),  # needs the run's length
])
def test_passes_per_step_counts_the_training_forwards(tmp_path: Path, rule: str, overrides: list[str]) -> None:
    recipe = write_recipe(tmp_path, rule=rule, epochs=2)
    t = trainer(recipe, tmp_path / "run", overrides=[*overrides, "train.accumulate=2"])
    t.setup()
    forwards = {"train": 0}

    def count(module, args, out) -> None:
        if module.training:
            forwards["train"] += 1

    t.parts.model.register_forward_hook(count)
    summary = t.fit()
    assert summary.steps == 6
    assert summary.passes_per_step == pytest.approx(forwards["train"] / (2 * 6), abs=1e-4)  # 2 forwards a pass
    assert 1 < summary.passes_per_step < 2
    with open(tmp_path / "run" / "metrics.csv", newline="") as f:
        per_epoch = [float(r["passes_per_step"]) for r in csv.DictReader(f)]
    assert sum(per_epoch) * 3 == pytest.approx(forwards["train"] / 2)
