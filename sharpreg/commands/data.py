"""``sharpreg data summary|fingerprint|split RECIPE``: a recipe's data, before any training.

``summary`` prints counts per class and split, source image sizes, the duplicate groups found and where they
were placed (``--json``: the same, with every image listed under its split). ``fingerprint`` prints the
fingerprint of the images the recipe uses (their content and classes, not their names). ``split -o FILE``
writes the split as a split file: every image's content hash, class and split, for ``data.split.file``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import RECIPE_HELP, add_set_option

if TYPE_CHECKING:
    from ..data.module import DataModule


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="inspect a recipe's data set (counts, split, duplicates, fingerprint)")
    inner = p.add_subparsers(dest="data_command", metavar="ACTION")
    s = _action(inner, "summary", run, "counts per class and split, image sizes, duplicate groups and their placement")
    s.add_argument("--json", action="store_true", help="JSON, listing every image under its split")
    _action(inner, "fingerprint", fingerprint, "the fingerprint of the images a recipe uses (content and classes)",
            "Print the recipe's data fingerprint: SHA-256 over the (content hash, class) pairs of the images it uses. "
            "Renamed, losslessly re-encoded or reordered copies share it. Pin it in a recipe as data.fingerprint.")
    w = _action(inner, "split", split, "write the recipe's split as a split file (images named by content)",
                "Write the split the recipe makes, without training, as a split file: every image's content hash, "
                "class and split. Another recipe reuses it with data.split.method = \"file\" and data.split.file = FILE.")
    w.add_argument("-o", "--output", type=Path, required=True, metavar="FILE", help="split file to write (JSON)")
    w.add_argument("--force", action="store_true", help="overwrite FILE")
    p.set_defaults(func=lambda args: (p.print_help(), 0)[1])


def _action(inner: argparse._SubParsersAction, name: str, func: Callable[[argparse.Namespace], int], help: str,
            description: str | None = None) -> argparse.ArgumentParser:
    """A ``data`` action on a recipe (with ``--set``)."""
    parser = inner.add_parser(name, help=help, description=description or help)
    parser.add_argument("recipe", help=RECIPE_HELP)
    add_set_option(parser)
    parser.set_defaults(func=func)
    return parser


def data_module(recipe_path: str | Path, overrides: list[str], *, setup: bool = True) -> DataModule:
    """Load the recipe, build its data module and (unless told not to) set it up."""
    from ..build import build_datamodule
    from ..recipe import load_recipe

    dm = build_datamodule(load_recipe(recipe_path, overrides))
    if setup:
        dm.setup()
    return dm


def summarize(recipe_path: str | Path, overrides: list[str], *, images: bool) -> dict[str, Any]:
    """Load the recipe, build and set up its data module, and return its summary."""
    summary = data_module(recipe_path, overrides).summary(images=images)
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


def fingerprint(args: argparse.Namespace) -> int:
    from ..errors import DataError

    dm = data_module(args.recipe, list(args.overrides), setup=False)  # the images, not the split
    if dm.fingerprint is None:
        raise DataError(f"the data set of {args.recipe} cannot tell the content of its images (no fingerprint)")
    sys.stdout.write(f"{dm.fingerprint}\n")
    used = Counter(dm.class_names[it.label] for it in getattr(dm, "items", []))
    if used:
        sys.stderr.write(f"{sum(used.values())} images: " + ", ".join(f"{c} {used[c]}" for c in dm.class_names) + "\n")
    return 0


def split(args: argparse.Namespace) -> int:
    from ..errors import SharpregError
    from ..runs.files import write_json

    out: Path = args.output
    if out.exists() and not args.force:
        raise SharpregError(f"{out} already exists; pass --force to overwrite it")
    record = data_module(args.recipe, list(args.overrides)).split_record()
    if "items" not in record:
        raise SharpregError(f"the data set of {args.recipe} does not list its images by content; no split file")
    write_json(out, record)
    counts = record.get("totals", {})
    print(f"wrote {out}: " + ", ".join(f"{s} {n}" for s, n in counts.items()) + f" ({record['fingerprint']})")
    return 0
