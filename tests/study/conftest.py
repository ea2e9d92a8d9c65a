"""Helpers for the study tests: grid files on top of the quick-start recipe."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "recipes" / "quickstart.toml"


@pytest.fixture
def write_grid(tmp_path: Path):
    """Write a grid file whose base recipe is the quick start; returns its path."""

    def write(body: str, name: str = "grid.toml", recipe: Path | str = QUICKSTART) -> Path:
        path = tmp_path / name
        path.write_text(f'recipe = "{recipe}"\n{body}', encoding="utf-8")
        return path

    return write

