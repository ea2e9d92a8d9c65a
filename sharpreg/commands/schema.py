"""``sharpreg schema [-o FILE]``: JSON Schema of recipes for the installed plugins."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("schema", help="write the JSON Schema of recipes (for editors such as Even Better TOML)",
                       description="Export the recipe JSON Schema, including every installed plugin's parameters. "
                       "Point a recipe at it with a first line `#:schema ./recipe.schema.json`.")
    p.add_argument("-o", "--output", type=Path, default=None, help="file to write (default: standard output)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..recipe.schema import recipe_schema
    from ..registry import default_registry

    text = json.dumps(recipe_schema(default_registry()), indent=2) + "\n"
    if args.output:
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    else:
        print(text, end="")
    return 0
