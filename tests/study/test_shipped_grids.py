"""Every sweep grid shipped in recipes/ loads, and every run it plans validates."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from sharpreg.study.grid import load_grid

ROOT = Path(__file__).resolve().parents[2]
GRIDS = sorted(p for p in (ROOT / "recipes").rglob("*.toml") if "schema_version" not in tomllib.loads(p.read_text()))


@pytest.mark.parametrize("grid", GRIDS, ids=lambda p: p.name)
def test_shipped_grids_validate(grid: Path) -> None:
    loaded = load_grid(grid)
    assert loaded.combos and set(loaded.epochs) == {c.id for c in loaded.combos}


def test_breastmnist_grid_runs_every_method_three_times_under_the_protocol() -> None:
    grid = load_grid(ROOT / "recipes" / "study" / "breastmnist_grid.toml")
    methods = {c.values["sharpness.name"] for c in grid.combos}
    assert methods == {"none", "sam", "asam", "gsam", "wsam", "crsam"}
    assert len(grid.combos) == 18 and set(grid.epochs.values()) == {100}
