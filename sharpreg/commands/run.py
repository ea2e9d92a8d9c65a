"""``sharpreg run RECIPE``: train and evaluate, leaving a run folder; ``--plan`` shows the plan and an
estimate from a few timed steps without creating one."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import RECIPE_HELP, add_set_option, add_strict_option, warn

if TYPE_CHECKING:
    from ..recipe import Recipe

PLAN_STEPS = 3


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="train and evaluate a recipe, leaving a run folder",
                       description="Train and evaluate RECIPE. The run folder (runs/<time>-<name>/ unless --out) "
                       "holds the recipe, resolved recipe, environment, split, metrics, checkpoints, summary and "
                       "model card. RECIPE is a file, or an installed recipe's name when no such file exists. "
                       "Ctrl-C or SIGTERM stops it after the current step with a checkpoint; `sharpreg resume` "
                       "continues it.")
    p.add_argument("recipe", type=Path, help=RECIPE_HELP)
    add_set_option(p)
    p.add_argument("--out", type=Path, default=None, help="exact run folder to create (must not exist or be empty)")
    p.add_argument("--runs-dir", type=Path, default=Path("runs"), help="parent of new run folders (default: ./runs)")
    p.add_argument("--plan", action="store_true",
                   help=f"show the plan and an estimate from {PLAN_STEPS} timed steps (after a warm-up step), "
                   "then stop: no run folder, nothing kept")
    add_progress_options(p)
    add_strict_option(p)
    p.set_defaults(func=run)


def add_progress_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-progress", action="store_true", help="no progress bar or progress lines (logs only)")
    p.add_argument("--progress-every", type=float, default=None, metavar="SECONDS",
                   help="when the output is not a terminal: seconds between progress lines (default 10)")


def trainer_options(args: argparse.Namespace) -> dict[str, Any]:
    from ..errors import SharpregError
    from ..training.progress import PLAIN_EVERY

    every = PLAIN_EVERY if args.progress_every is None else args.progress_every
    if every < 0:
        raise SharpregError(f"--progress-every must be 0 or more seconds, not {every:g}")
    return {"progress": not args.no_progress, "progress_every": every}


def run(args: argparse.Namespace) -> int:
    from ..errors import Interrupted, SharpregError
    from ..recipe import load_recipe
    from ..recipe.lock import enforce, lock_differences
    from ..runs import RunFolder
    from ..training import Trainer

    recipe = load_recipe(args.recipe, args.overrides)
    if args.plan:
        return plan(recipe)
    options = trainer_options(args)
    folder = RunFolder.create(recipe, out=args.out, root=args.runs_dir, command="run")
    trainer = Trainer(recipe, folder, **options)
    # the data are read and checked against what the recipe pins before anything trains
    trainer.before_training = lambda parts: enforce(
        lock_differences(recipe, data_fingerprint=parts.dm.fingerprint), strict=args.strict, warn=warn)
    try:
        trainer.fit()
    except (SharpregError, KeyboardInterrupt) as exc:
        if folder.checkpoint_file("last").exists():
            raise
        # stopped before the first checkpoint (a mistake found while building the run, or Ctrl-C during
        # it): leave nothing behind, so the same command works again
        folder.discard()
        if isinstance(exc, KeyboardInterrupt):
            raise Interrupted("stopped before training began; nothing was kept. Start again with: "
                              f"{command_line(args)}") from None
        raise
    finally:
        folder.release()
    return 0


def command_line(args: argparse.Namespace) -> str:
    """The ``sharpreg run`` command of ``args``, quoted for a shell."""
    words = ["sharpreg", "run", str(args.recipe), *(w for o in args.overrides for w in ("--set", o))]
    if args.out is not None:
        words += ["--out", str(args.out)]
    elif args.runs_dir != Path("runs"):
        words += ["--runs-dir", str(args.runs_dir)]
    return shlex.join(words)


def plan(recipe: Recipe) -> int:
    from ..console import make_console
    from ..training.plan import build_plan, time_steps

    console = make_console()
    run_plan, parts = build_plan(recipe)
    for line in run_plan.lines():
        console.print(line, markup=False)
    console.print(f"  timing    {PLAN_STEPS} steps after a warm-up step (no run folder)...", markup=False)
    console.file.flush()  # before data-loader workers fork: they would print an unflushed buffer again
    estimate = time_steps(recipe, parts, timed_steps=PLAN_STEPS)
    console.print(f"  estimate  {estimate.line()}", markup=False)
    if estimate.gpu_sized:
        console.print(f"  note      {estimate.gpu_note()}", markup=False)
    return 0
