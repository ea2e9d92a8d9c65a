"""``sharpreg show RECIPE [--resolved]``: print a recipe (merged, with defaults)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import tomli_w

from . import RECIPE_HELP, add_set_option


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("show", help="print a recipe; --resolved merges extends/--set and fills every default")
    p.add_argument("recipe", type=Path, help=RECIPE_HELP)
    p.add_argument("--resolved", action="store_true", help="validated, with every plugin default filled in")
    add_set_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..recipe import load_recipe
    from ..recipe.loader import apply_overrides, load_raw

    if args.resolved:
        data = load_recipe(args.recipe, args.overrides).resolved()
    else:
        data = apply_overrides(load_raw(args.recipe), args.overrides).data
    sys.stdout.write(tomli_w.dumps(data))
    return 0
