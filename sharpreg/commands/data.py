"""``sharpreg data summary RECIPE [--set k=v]... [--json]``: check a recipe's data and split before training.

Prints counts per class and split, source image sizes, the duplicate groups found and where they were
placed (and what happened to cross-class duplicates). ``--json`` prints the same as JSON, with every
image's name listed under the split it falls in.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from . import add_set_option


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="inspect a recipe's data set (counts, split, duplicates)")
    inner = p.add_subparsers(dest="data_command", metavar="ACTION")
    s = inner.add_parser("summary", help="counts per class and split, image sizes, duplicate groups and their placement")
    s.add_argument("recipe", type=Path, help="recipe TOML file")
    s.add_argument("--json", action="store_true", help="JSON, listing every image under its split")
    add_set_option(s)
    s.set_defaults(func=run)
    p.set_defaults(func=lambda args: (p.print_help(), 0)[1])


def summarize(recipe_path: Path, overrides: list[str], *, images: bool) -> dict[str, Any]:
    """Load the recipe, build and set up its data module, and return its summary."""
    from ..build import build_datamodule
    from ..recipe import load_recipe

    recipe = load_recipe(recipe_path, overrides)
    dm = build_datamodule(recipe)
    dm.setup()
    summary = dm.summary(images=images)
    summary.setdefault("recipe", str(recipe_path))
    return summary


def run(args: argparse.Namespace) -> int:
    summary = summarize(args.recipe, list(args.overrides), images=bool(args.json))
    if args.json:
        json.dump(summary, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
        return 0
    from ..data.summary import format_summary

    try:
        text = format_summary(summary)
    except (KeyError, TypeError):  # a summary that does not follow the built-in layout
        text = json.dumps(summary, indent=2, default=str)
    sys.stdout.write(text + "\n")
    return 0
