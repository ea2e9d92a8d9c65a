"""``sharpreg check RECIPE...``: validate recipes without running anything."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from . import add_set_option


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check", help="validate recipes and report every problem (exit 2 if any)",
                       description="Validate each RECIPE: plugin names, then each plugin's parameters. "
                       "Every problem is listed as FILE:LINE TABLE.KEY: message.")
    p.add_argument("recipes", type=Path, nargs="+", metavar="RECIPE", help="recipe TOML files")
    add_set_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import RecipeError
    from ..recipe import load_recipe

    out, err = Console(highlight=False, soft_wrap=True), Console(stderr=True, highlight=False, soft_wrap=True)
    status = 0
    for path in args.recipes:
        try:
            recipe = load_recipe(path, args.overrides)
        except RecipeError as exc:
            status = 2
            err.print(f"[red]✗[/] {path}: {len(exc.issues)} problem(s)")
            for issue in exc.issues:
                err.print(f"  {issue}", markup=False)
            continue
        parts = ", ".join(f"{s.table} {s.name}" for s in recipe.selected())
        out.print(f"[green]✓[/] {path}: {parts}")
    return status
