"""``sharpreg resume RUN``: continue an interrupted run from its last checkpoint."""

from __future__ import annotations

import argparse
from pathlib import Path

from .run import add_progress_options, trainer_options


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("resume", help="continue an interrupted run from checkpoints/last.pt",
                       description="Continue RUN (a run folder) from checkpoints/last.pt with the recipe in its "
                       "resolved.toml. On the same machine the result equals that of an uninterrupted run. A run "
                       "stopped before its first checkpoint starts over from the beginning.")
    p.add_argument("run_dir", type=Path, metavar="RUN", help="run folder")
    add_progress_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..console import make_console
    from ..errors import RunError
    from ..runs import RunFolder, RunState
    from ..training import Trainer

    folder = RunFolder.open(args.run_dir)
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
        Trainer(folder.load_recipe(), folder, resume=state is RunState.RESUMABLE, **trainer_options(args)).fit()
    return 0
