"""``sharpreg export RUN [-o FILE]``: a recipe that reproduces a finished run elsewhere, with its split and model."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write a pinned recipe, split file and model that reproduce a run elsewhere",
                       description="Export the finished run RUN as FILE (default ./<run folder name>.toml) with "
                       "FILE's stem + .split.json (every image by content hash, and its split) and + .safetensors "
                       "(the trained weights) beside it. Plugins are named dist:name, requires names every "
                       "providing distribution, data.fingerprint pins the data, and [lock] records the exact "
                       "versions and file hashes, which `sharpreg check` compares with the receiving machine.")
    p.add_argument("run_dir", type=Path, metavar="RUN", help="a finished run folder")
    p.add_argument("-o", "--output", type=Path, default=None, metavar="FILE", help="the exported recipe (.toml)")
    p.add_argument("--force", action="store_true", help="overwrite existing files")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..runs.export import export_run

    done = export_run(args.run_dir, args.output, force=args.force)
    files = [done.recipe, done.split, *([done.model] if done.model else [])]
    print("wrote " + ", ".join(str(f) for f in files))
    if done.left_out:
        print(f"left out paths of this machine: {', '.join(done.left_out)} (the receiving lab sets its own, e.g. "
              f"--set data.root=...)")
    print(f"reproduce with: sharpreg check --strict {done.recipe} && sharpreg run {done.recipe}")
    return 0
