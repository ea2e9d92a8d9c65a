"""Item 7: values that pass `check` work in a run. Numbers are finite everywhere (the core's tables, every
plugin's parameters, grid files), seeds fit every generator they feed, and the first step is tried."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field

from sharpreg.specs import MAX_SEED, PluginParams


@pytest.mark.parametrize("setting", ["optimizer.lr=inf", "train.min_lr=inf", "train.warmup_epochs=inf",
                                     "train.clip_grad_norm=inf", "sharpness.rho=inf", "data.augment.zoom=nan",
                                     "optimizer.lr=nan", "optimizer.lr=-inf", "eval.confidence=nan"])
def test_inf_and_nan_fail_check_with_the_right_reason(cli, tiny: Path, setting: str) -> None:
    """Before: inf passed check (warmup_epochs = inf then crashed); nan said "should be greater than 0"."""
    result = cli("check", tiny, "--set", setting, "--set", 'sharpness.name="sam"')
    key = setting.split("=")[0]
    assert result.code == 2 and f"{key}: Input should be a finite number" in result.err, result.err
    assert "greater than" not in result.err


@pytest.mark.parametrize("setting", ["optimizer.lr=1e300", "train.min_lr=-1e39", "optimizer.weight_decay=1e39"])
def test_numbers_beyond_float32_fail_check(cli, tiny: Path, setting: str) -> None:
    """Before: optimizer.lr = 1e300 passed check, then torch could not convert it ("overflow") mid-step."""
    result = cli("check", tiny, "--set", setting)
    assert result.code == 2 and f"{setting.split('=')[0]}:" in result.err, result.err


@pytest.mark.parametrize("setting", ["train.seed=4294967296", "train.seed=9223372036854775807",
                                     "data.split.seed=-1", "eval.bootstrap_seed=-3", "data.generator_seed=-1"])
def test_seeds_outside_what_the_generators_take_fail_check(cli, tiny: Path, setting: str) -> None:
    result = cli("check", tiny, "--set", setting)
    assert result.code == 2 and setting.split("=")[0] in result.err and "Traceback" not in result.err


def test_a_third_party_plugins_numbers_are_finite_too() -> None:
    class Params(PluginParams):
        strength: float = Field(1.0, ge=0)

    for bad in (float("inf"), float("nan")):
        with pytest.raises(ValueError, match="finite number"):
            Params(strength=bad)
    assert Params(strength=MAX_SEED).strength == MAX_SEED


def test_grid_numbers_are_finite(cli, write_grid) -> None:
    grid = write_grid('[grid]\n"train.seed" = [0]\n[slurm]\nmem_gb = inf\n')
    result = cli("sweep", grid, "--dry-run")
    assert result.code == 2 and "slurm.mem_gb: Input should be a finite number" in result.err


@pytest.mark.slow
def test_extreme_values_that_pass_check_run_or_stop_cleanly(cli, tiny: Path, tmp_path: Path) -> None:
    """The largest values check lets through either train or stop with one line and a resumable folder."""
    extremes = ["train.seed=4294967295", "train.warmup_epochs=3e38", "optimizer.lr=3e38", "train.min_lr=3e38",
                "optimizer.weight_decay=3e38", "train.step_epochs=9223372036854775807", "train.clip_grad_norm=1e-300",
                "data.augment.rotate_degrees=180"]
    for i, setting in enumerate(extremes):
        out = tmp_path / f"run{i}"
        result = cli("run", tiny, "--set", setting, "--set", "train.max_steps_per_epoch=1", "--out", out,
                     "--no-progress")
        assert result.code in (0, 2) and "Traceback" not in result.err, (setting, result.err)
        if result.code == 2:
            assert len([x for x in result.err.splitlines() if x.startswith("error:")]) == 1, result.err
