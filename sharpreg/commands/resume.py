"""``sharpreg resume RUN``: continue an interrupted run from its last checkpoint."""

from __future__ import annotations

import argparse
from pathlib import Path

from . import add_nproc_option, global_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("resume", help="continue an interrupted run from checkpoints/last.pt",
                       description="Continue RUN (a run folder) from checkpoints/last.pt with the recipe in its "
                       "resolved.toml. On the same machine the result equals that of an uninterrupted run. A run "
                       "stopped before its first checkpoint starts over from the beginning. A run trained on several "
                       "processes resumes on as many (every process from the same checkpoint), unless --nproc says "
                       "otherwise.")
    p.add_argument("run_dir", type=Path, metavar="RUN", help="run folder")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (logs only)")
    add_nproc_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..console import make_console
    from ..devices import resolve_device
    from ..distributed import broadcast, check_launch, join
    from ..errors import RunError
    from ..launch import launch, launched
    from ..runs import RunFolder, RunState
    from ..training import Trainer

    folder = RunFolder.open(args.run_dir)
    recipe = folder.load_recipe()
    cfg = recipe.train
    if not launched():
        nproc = args.nproc if args.nproc is not None else int((folder.read_environment() or {}).get("world_size") or 1)
        check_launch(nproc, cfg.batch_size, cfg.backend, resolve_device(cfg.device))
        if nproc > 1:  # rank 0 of the launched processes takes the folder's lock
            return launch(nproc, [*global_args(args), "resume", str(folder.path),
                                  *(["--no-progress"] * args.no_progress)])
    with join(cfg.backend, cfg.device) as rep:
        if not rep.main:  # rank 0 decides (and starts a run without a checkpoint over); the others follow
            state = broadcast(None, rep)
            Trainer(recipe, folder.replica(), progress=False, resume=state is RunState.RESUMABLE, replicas=rep).fit()
            return 0
        with folder.locked("resume"):
            state = folder.state()
            if state is RunState.DONE:
                raise RunError(f"{folder.path} has finished ({folder.SUMMARY} exists); nothing to resume. "
                               f"Redraw its plots with `sharpreg report {folder.path}`")
            if state is RunState.PARTIAL:
                make_console(stderr=True).print(f"{folder.path} stopped before its first checkpoint: starting it over "
                                                "from the beginning")
                folder.reset()
                folder.event("restart", reason="no checkpoint to resume from")
            broadcast(state, rep)
            Trainer(recipe, folder, progress=not args.no_progress, resume=state is RunState.RESUMABLE,
                    replicas=rep).fit()
    return 0
