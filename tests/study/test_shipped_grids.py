"""Every sweep grid shipped in recipes/ loads, and every run it plans validates."""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path

import pytest

from sharpreg.study.grid import Grid, load_grid

ROOT = Path(__file__).resolve().parents[2]
GRIDS = sorted(p for p in (ROOT / "recipes").rglob("*.toml") if "schema_version" not in tomllib.loads(p.read_text()))


@functools.cache
def loaded(path: Path) -> Grid:
    return load_grid(path)


@pytest.mark.parametrize("grid", GRIDS, ids=lambda p: p.name)
def test_shipped_grids_validate(grid: Path) -> None:
    g = loaded(grid)
    runs = {c.id for c in g.combos} | {t.combo.id for t in (g.tuning.runs if g.tuning else [])}
    assert g.combos and set(g.epochs) == runs


@pytest.mark.parametrize("name, main, tuning", [("cpu_grid.toml", 180, 270), ("paper_grid.toml", 280, 420)])
def test_the_study_grids_tune_every_method_with_the_same_budget(name: str, main: int, tuning: int) -> None:
    g = loaded(ROOT / "recipes" / "study" / name)
    assert len(g.combos) == main and g.tuning is not None and len(g.tuning.runs) == tuning
    assert {len(v) for v in g.tuning.values.values()} == {3}
    assert {c.values["data.split.fold"] for c in g.combos} == {0, 1, 2, 3, 4}
    assert {c.variant for c in g.combos} >= {"none", "none-2x", "sam", "asam", "gsam", "wsam", "crsam"}


def test_breastmnist_grid_runs_every_method_three_times_under_the_protocol() -> None:
    grid = loaded(ROOT / "recipes" / "study" / "breastmnist_grid.toml")
    methods = {c.values["sharpness.name"] for c in grid.combos}
    assert methods == {"none", "sam", "asam", "gsam", "wsam", "crsam"}
    assert len(grid.combos) == 18 and set(grid.epochs.values()) == {100}
