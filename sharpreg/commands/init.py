"""``sharpreg init [FILE]``: write a starter recipe with a ``#:schema`` header."""

from __future__ import annotations

import argparse
from importlib import resources
from pathlib import Path

from ..errors import SharpregError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("init", help="write a starter recipe (and its JSON Schema for editors)")
    p.add_argument("path", type=Path, nargs="?", default=Path("recipe.toml"), help="file to create (default recipe.toml)")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.add_argument("--no-schema", action="store_true", help="do not write recipe.schema.json beside it")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..recipe.schema import recipe_schema
    from ..registry import default_registry

    path: Path = args.path
    if path.exists() and not args.force:
        raise SharpregError(f"{path} already exists; pass --force to overwrite it")
    text = resources.files("sharpreg").joinpath("templates/starter.toml").read_text(encoding="utf-8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not args.no_schema:
            import json

            schema_path = path.parent / "recipe.schema.json"
            schema_path.write_text(json.dumps(recipe_schema(default_registry()), indent=2) + "\n", encoding="utf-8")
            text = "#:schema ./recipe.schema.json\n" + text
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise SharpregError(f"cannot write {path}: {exc.strerror or type(exc).__name__}; choose a file in a folder "
                            "you can write") from None
    print(f"wrote {path}; next: sharpreg check {path} && sharpreg run {path}")
    return 0
