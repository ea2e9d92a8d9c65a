"""``sharpreg resume RUN``: continue an interrupted run from its last checkpoint."""

from __future__ import annotations

import argparse
from pathlib import Path

from . import add_nproc_option, global_args
from .run import add_progress_options, progress_args, trainer_options


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("resume", help="continue an interrupted run from checkpoints/last.pt",
                       description="Continue RUN (a run folder) from checkpoints/last.pt with the recipe in its "
                       "resolved.toml. On the same machine the result equals that of an uninterrupted run. A run "
                       "stopped before its first checkpoint starts over from the beginning. A run trained on several "
                       "processes resumes on as many (every process from the same checkpoint), unless --nproc says "
                       "otherwise.")
    p.add_argument("run_dir", type=Path, metavar="RUN", help="run folder")
    add_progress_options(p)
    add_nproc_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..console import make_console
    from ..devices import resolve_device
    from ..distributed import broadcast, check_launch, join
    from ..errors import RunError, SharpregError
    from ..launch import launch, launched
    from ..runs import RunFolder, RunState
    from ..training import Trainer

    folder = RunFolder.open(args.run_dir)
    recipe = folder.load_recipe()
    cfg = recipe.train
    options = trainer_options(args)
    if not launched():
        nproc = args.nproc if args.nproc is not None else int((folder.read_environment() or {}).get("world_size") or 1)
        check_launch(nproc, cfg.batch_size, cfg.backend, resolve_device(cfg.device))
        if nproc > 1:  # rank 0 of the launched processes takes the folder's lock
            return launch(nproc, [*global_args(args), "resume", str(folder.path), *progress_args(args)])
    with join(cfg.backend, cfg.device) as rep:
        if not rep.main:  # rank 0 decides (and starts a run without a checkpoint over); the others follow
            state = broadcast(None, rep)
            if not isinstance(state, RunState):
                raise RunError(str(state))  # rank 0 failed, and says why
            Trainer(recipe, folder.replica(), resume=state is RunState.RESUMABLE, replicas=rep,
                    **(options | {"progress": False})).fit()
            return 0
        told = False
        try:
            with folder.locked("resume"):
                state = folder.state()
                if state is RunState.DONE:
                    raise RunError(f"{folder.path} has finished ({folder.SUMMARY} exists); nothing to resume. "
                                   f"Redraw its plots with `sharpreg report {folder.path}`")
                if state is RunState.PARTIAL:
                    make_console(stderr=True).print(f"{folder.path} stopped before its first checkpoint: starting it "
                                                    "over from the beginning")
                    folder.reset()
                    folder.event("restart", reason="no checkpoint to resume from")
                broadcast(state, rep)
                told = True
                Trainer(recipe, folder, resume=state is RunState.RESUMABLE, replicas=rep, **options).fit()
        except SharpregError as exc:
            if not told:  # the other processes wait for rank 0's decision: tell them it failed
                broadcast(str(exc), rep)
            raise
    return 0
