"""``sharpreg run RECIPE``: train and evaluate, leaving a run folder (``--nproc N``: on N processes);
``--plan`` shows the plan and an estimate from a few timed steps without creating one."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import RECIPE_HELP, add_nproc_option, add_set_option, add_strict_option, global_args, warn

if TYPE_CHECKING:
    from ..recipe import Recipe

PLAN_STEPS = 3


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="train and evaluate a recipe, leaving a run folder",
                       description="Train and evaluate RECIPE. The run folder (runs/<time>-<name>/ unless --out) "
                       "holds the recipe, resolved recipe, environment, split, metrics, checkpoints, summary and "
                       "model card. RECIPE is a file, or an installed recipe's name when no such file exists. "
                       "Ctrl-C or SIGTERM stops it after the current step with a checkpoint; `sharpreg resume` "
                       "continues it. `torchrun --nproc-per-node N -m sharpreg run RECIPE` (or --nproc N) trains on N "
                       "processes: each takes its part of every batch, and the result equals one process's up to "
                       "rounding.")
    p.add_argument("recipe", type=Path, nargs="?", help=RECIPE_HELP)
    add_set_option(p)
    p.add_argument("--out", type=Path, default=None, help="exact run folder to create (must not exist or be empty)")
    p.add_argument("--runs-dir", type=Path, default=Path("runs"), help="parent of new run folders (default: ./runs)")
    p.add_argument("--plan", action="store_true",
                   help=f"show the plan and an estimate from {PLAN_STEPS} timed steps (after a warm-up step), "
                   "then stop: no run folder, nothing kept")
    add_progress_options(p)
    add_strict_option(p)
    add_nproc_option(p)
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


def progress_args(args: argparse.Namespace) -> list[str]:
    """The progress options of ``args`` as command-line words (for the processes of a launched run)."""
    every = [] if args.progress_every is None else ["--progress-every", str(args.progress_every)]
    return [*(["--no-progress"] * args.no_progress), *every]


def run(args: argparse.Namespace) -> int:
    from ..devices import resolve_device
    from ..distributed import broadcast, check_launch, join
    from ..errors import Interrupted, RunError, SharpregError
    from ..launch import launch, launched
    from ..recipe import load_recipe
    from ..recipe.lock import enforce, lock_differences
    from ..runs import RunFolder
    from ..training import Trainer

    if args.recipe is None:
        raise SharpregError("`run` needs a recipe: sharpreg run RECIPE (on N processes: torchrun "
                            "--nproc-per-node N -m sharpreg run RECIPE, or sharpreg run RECIPE --nproc N)")
    recipe = load_recipe(args.recipe, args.overrides)
    if args.plan:
        if launched():
            raise SharpregError("--plan runs on one process: use sharpreg run RECIPE --plan, without torchrun")
        return plan(recipe)
    options = trainer_options(args)
    cfg = recipe.train
    if args.nproc is not None and not launched():
        check_launch(args.nproc, cfg.batch_size, cfg.backend, resolve_device(cfg.device))
        if args.nproc > 1:
            sets = [a for o in args.overrides for a in ("--set", o)]
            out = ["--out", str(args.out)] if args.out is not None else []
            return launch(args.nproc, [*global_args(args), "run", str(args.recipe), *sets, *out,
                                       "--runs-dir", str(args.runs_dir), *progress_args(args),
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
        trainer = Trainer(recipe, folder, replicas=rep, **options)
        # the data are read and checked against what the recipe pins before anything trains; every process
        # decides alike, rank 0 says it
        trainer.before_training = lambda parts: enforce(
            lock_differences(recipe, data_fingerprint=parts.dm.fingerprint), strict=args.strict,
            warn=warn if rep.main else (lambda _text: None))
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
