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


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Tiny tensors: one thread avoids thread-pool overhead on a busy 2-core machine (restored after)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
