"""``sharpreg run RECIPE``: train and evaluate, leaving a run folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from . import add_set_option


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="train and evaluate a recipe, leaving a run folder",
                       description="Train and evaluate RECIPE. The run folder (runs/<time>-<name>/ unless --out) "
                       "holds the recipe, resolved recipe, environment, split, metrics, checkpoints and summary.")
    p.add_argument("recipe", type=Path, help="recipe TOML file")
    add_set_option(p)
    p.add_argument("--out", type=Path, default=None, help="exact run folder to create (must not exist or be empty)")
    p.add_argument("--runs-dir", type=Path, default=Path("runs"), help="parent of new run folders (default: ./runs)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (logs only)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import shutil

    from ..errors import SharpregError
    from ..recipe import load_recipe
    from ..runs import RunFolder
    from ..training import Trainer

    recipe = load_recipe(args.recipe, args.overrides)
    folder = RunFolder.create(recipe, out=args.out, root=args.runs_dir)
    try:
        Trainer(recipe, folder, progress=not args.no_progress).fit()
    except SharpregError:
        # a mistake found before any checkpoint (missing data, bad class list...): leave nothing behind,
        # so the same command works once it is fixed
        if not folder.checkpoint_file("last").exists():
            shutil.rmtree(folder.path, ignore_errors=True)
        raise
    return 0
