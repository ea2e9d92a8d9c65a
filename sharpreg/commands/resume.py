"""``sharpreg resume RUN``: continue an interrupted run from its last checkpoint."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("resume", help="continue an interrupted run from checkpoints/last.pt",
                       description="Continue RUN (a run folder) from checkpoints/last.pt with the recipe in its "
                       "resolved.toml. On the same machine the result equals that of an uninterrupted run.")
    p.add_argument("run_dir", type=Path, metavar="RUN", help="run folder")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (logs only)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import RunError
    from ..recipe import load_recipe
    from ..runs import RunFolder
    from ..training import Trainer

    folder = RunFolder.open(args.run_dir)
    if (folder.path / "summary.json").is_file():
        raise RunError(f"{folder.path} has finished (summary.json exists); nothing to resume. "
                       f"Redraw its plots with `sharpreg report {folder.path}`")
    if not (folder.path / "checkpoints" / "last.pt").is_file():
        raise RunError(f"{folder.path} has no checkpoints/last.pt to resume from; start it again with `sharpreg run`")
    recipe = load_recipe(folder.path / "resolved.toml")
    Trainer(recipe, folder, progress=not args.no_progress, resume=True).fit()
    return 0
