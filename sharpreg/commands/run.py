"""``sharpreg run RECIPE``: train and evaluate, leaving a run folder (``--nproc N``: on N processes)."""

from __future__ import annotations

import argparse
from pathlib import Path

from . import RECIPE_HELP, add_nproc_option, add_set_option, add_strict_option, global_args, warn


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="train and evaluate a recipe, leaving a run folder",
                       description="Train and evaluate RECIPE. The run folder (runs/<time>-<name>/ unless --out) "
                       "holds the recipe, resolved recipe, environment, split, metrics, checkpoints, summary and "
                       "model card. RECIPE is a file, or an installed recipe's name when no such file exists. "
                       "`torchrun --nproc-per-node N -m sharpreg run RECIPE` (or --nproc N) trains on N processes: "
                       "each takes its part of every batch, and the result equals one process's up to rounding.")
    p.add_argument("recipe", type=Path, nargs="?", help=RECIPE_HELP)
    add_set_option(p)
    p.add_argument("--out", type=Path, default=None, help="exact run folder to create (must not exist or be empty)")
    p.add_argument("--runs-dir", type=Path, default=Path("runs"), help="parent of new run folders (default: ./runs)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (logs only)")
    add_strict_option(p)
    add_nproc_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..devices import resolve_device
    from ..distributed import broadcast, check_launch, join
    from ..errors import RunError, SharpregError
    from ..launch import launch, launched
    from ..recipe import load_recipe
    from ..recipe.lock import enforce, lock_differences
    from ..runs import RunFolder
    from ..training import Trainer

    if args.recipe is None:
        raise SharpregError("`run` needs a recipe: sharpreg run RECIPE (on N processes: torchrun "
                            "--nproc-per-node N -m sharpreg run RECIPE, or sharpreg run RECIPE --nproc N)")
    recipe = load_recipe(args.recipe, args.overrides)
    cfg = recipe.train
    if args.nproc is not None and not launched():
        check_launch(args.nproc, cfg.batch_size, cfg.backend, resolve_device(cfg.device))
        if args.nproc > 1:
            sets = [a for o in args.overrides for a in ("--set", o)]
            out = ["--out", str(args.out)] if args.out is not None else []
            return launch(args.nproc, [*global_args(args), "run", str(args.recipe), *sets, *out,
                                       "--runs-dir", str(args.runs_dir), *(["--no-progress"] * args.no_progress),
                                       *(["--strict"] * args.strict)])
    with join(cfg.backend, cfg.device) as rep:
        created: RunFolder | None = None
        made: Path | str | None = None
        if rep.main:
            try:
                created = RunFolder.create(recipe, out=args.out, root=args.runs_dir, command="run")
                made = created.path
            except SharpregError as exc:
                made = str(exc)
        made = broadcast(made, rep)  # every process trains into rank 0's folder (rank 0 holds its lock)
        if isinstance(made, str):
            raise RunError(made)
        folder = created if created is not None else RunFolder(made).replica()
        trainer = Trainer(recipe, folder, progress=not args.no_progress, replicas=rep)
        try:
            trainer.setup()  # the data are read and checked against what the recipe pins before anything trains
            enforce(lock_differences(recipe, data_fingerprint=trainer.parts.dm.fingerprint), strict=args.strict,
                    warn=warn if rep.main else (lambda _text: None))  # every process decides alike; rank 0 says it
            trainer.fit()
        except SharpregError:
            # a mistake found before any checkpoint (missing data, bad class list...): leave nothing behind,
            # so the same command works once it is fixed
            if rep.main and not folder.checkpoint_file("last").exists():
                folder.discard()
            raise
        finally:
            folder.release()
    return 0
