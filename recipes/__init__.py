"""sharpreg's own recipes, installed as package data and registered as the recipe pack of the
distribution ``sharpreg`` (entry point ``recipes``), exactly as a third-party package ships its own.

Every ``*.toml`` here and in ``study/`` that is a recipe (it has ``schema_version``) is registered under
its file name without the suffix, with its ``[meta] description`` as the summary: ``sharpreg run
wsam_busi``, ``sharpreg run sharpreg:wsam_busi`` and ``extends = "sharpreg:busi_base"`` find them;
``sharpreg run recipes/wsam_busi.toml`` reads the file in a clone. Sweep grids (no ``schema_version``)
are shipped beside them but are not recipes.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from sharpreg import RecipeSpec, hookimpl

HERE = Path(__file__).resolve().parent


def recipe_files() -> list[Path]:
    """The recipe files of this pack (sweep grids left out), in name order."""
    files = sorted([*HERE.glob("*.toml"), *HERE.glob("study/*.toml")], key=lambda p: p.stem)
    return [f for f in files if "schema_version" in tomllib.loads(f.read_text(encoding="utf-8"))]


@hookimpl
def sharpreg_recipes() -> list[RecipeSpec]:
    specs = []
    for file in recipe_files():
        meta = tomllib.loads(file.read_text(encoding="utf-8")).get("meta", {})
        summary = " ".join(str(meta.get("description") or meta.get("name") or file.stem).split())
        specs.append(RecipeSpec(name=file.stem, resource=file, summary=summary))
    return specs
