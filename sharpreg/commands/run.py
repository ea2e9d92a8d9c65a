"""``sharpreg run RECIPE``: train and evaluate, leaving a run folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from . import RECIPE_HELP, add_set_option, add_strict_option, warn


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="train and evaluate a recipe, leaving a run folder",
                       description="Train and evaluate RECIPE. The run folder (runs/<time>-<name>/ unless --out) "
                       "holds the recipe, resolved recipe, environment, split, metrics, checkpoints, summary and "
                       "model card. RECIPE is a file, or an installed recipe's name when no such file exists.")
    p.add_argument("recipe", type=Path, help=RECIPE_HELP)
    add_set_option(p)
    p.add_argument("--out", type=Path, default=None, help="exact run folder to create (must not exist or be empty)")
    p.add_argument("--runs-dir", type=Path, default=Path("runs"), help="parent of new run folders (default: ./runs)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (logs only)")
    add_strict_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import SharpregError
    from ..recipe import load_recipe
    from ..recipe.lock import enforce, lock_differences
    from ..runs import RunFolder
    from ..training import Trainer

    recipe = load_recipe(args.recipe, args.overrides)
    folder = RunFolder.create(recipe, out=args.out, root=args.runs_dir, command="run")
    trainer = Trainer(recipe, folder, progress=not args.no_progress)
    try:
        trainer.setup()  # the data are read and checked against what the recipe pins before anything trains
        enforce(lock_differences(recipe, data_fingerprint=trainer.parts.dm.fingerprint), strict=args.strict, warn=warn)
        trainer.fit()
    except SharpregError:
        # a mistake found before any checkpoint (missing data, bad class list...): leave nothing behind,
        # so the same command works once it is fixed
        if not folder.checkpoint_file("last").exists():
            folder.discard()
        raise
    finally:
        folder.release()
    return 0
