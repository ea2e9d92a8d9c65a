"""Packaging: every package folder is listed in pyproject, so a wheel install has all of them, recipes included."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_is_listed() -> None:
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(cfg["packages"])
    found = set()
    for top, name in (("sharpreg", "sharpreg"), ("plugins", "sharpreg_plugins"), ("recipes", "sharpreg_plugins.recipes")):
        for init in (ROOT / top).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / top)
            found.add(".".join((name, *rel.parts)))
    assert found == listed, f"missing: {sorted(found - listed)}, stale: {sorted(listed - found)}"


def test_torch_floor_and_no_newer_requirement() -> None:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert "torch>=2.10" in deps


@pytest.mark.slow
def test_a_wheel_ships_the_recipes_and_registers_them(tmp_path: Path) -> None:
    """`pip install .` (not only an editable install) brings sharpreg's recipes as package data."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for folder in ("sharpreg", "plugins", "recipes"):
        shutil.copytree(ROOT / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", str(src), "-w",
                    str(tmp_path / "wheel")], check=True, capture_output=True, timeout=600)
    wheel = next((tmp_path / "wheel").glob("sharpreg-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        entry_points = zf.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    shipped = {n.removeprefix("sharpreg_plugins/recipes/") for n in names if n.startswith("sharpreg_plugins/recipes/")}
    expected = {p.relative_to(ROOT / "recipes").as_posix() for p in (ROOT / "recipes").rglob("*.toml")}
    assert expected and expected | {"__init__.py"} == shipped
    assert "recipes = sharpreg_plugins.recipes" in entry_points
