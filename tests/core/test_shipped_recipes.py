"""Every shipped recipe says in its header what hardware and time it needs, and the README's recipe list
shows the same words for every one of them."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RECIPES = sorted(p for p in (ROOT / "recipes").rglob("*.toml") if "schema_version" in tomllib.loads(p.read_text()))
NEEDS = re.compile(r"^# Needs: (.+)$", re.MULTILINE)


def needs(text: str) -> list[str]:
    """The ``# Needs:`` lines of a recipe's header (the comments before ``schema_version``)."""
    return NEEDS.findall(text.split("\nschema_version", 1)[0])


def readme_recipes(readme: str) -> dict[str, str]:
    """Recipe path -> its ``needs`` cell, from the rows of the README's recipe list."""
    rows = re.findall(r"^\| \[`(recipes/[^`]+)`\]\([^)]+\) \|.*\| ([^|]+) \|$", readme, re.MULTILINE)
    return {path: cell.strip() for path, cell in rows}


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.relative_to(ROOT / "recipes").as_posix())
def test_a_shipped_recipe_says_what_it_needs_and_the_readme_repeats_it(recipe: Path) -> None:
    found = needs(recipe.read_text())
    assert len(found) == 1, f"{recipe.name}: one '# Needs: HARDWARE; TIME' line in the header, found {found}"
    assert re.search(r"\b(CPU|GPU)\b", found[0]) and re.search(r"\d", found[0]), found[0]
    listed = readme_recipes((ROOT / "README.md").read_text())
    assert listed.get(recipe.relative_to(ROOT).as_posix()) == found[0]


def test_the_checks_fail_on_a_header_without_needs_and_on_a_readme_that_differs() -> None:
    assert needs("# a recipe\nschema_version = 1\n# Needs: a CPU; 1 s\n") == []  # after the header: not counted
    assert needs("# Needs: a CPU; 1 s\nschema_version = 1\n") == ["a CPU; 1 s"]
    row = "| [`recipes/a.toml`](recipes/a.toml) | what | a GPU; 2 h |"
    assert readme_recipes(row) == {"recipes/a.toml": "a GPU; 2 h"}
    assert readme_recipes(row.replace("(recipes/a.toml)", "")) == {}
