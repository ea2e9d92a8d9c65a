"""``sharpreg report RUN...``: redraw a run's plots from its files and print its summary."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="redraw a run's plots and print its summary",
                       description="Redraw plots/learning_curves.png, confusion_matrix.png, roc.png and sharpness.png "
                       "of each RUN from its metrics.csv, summary.json and predictions, and print the summary.")
    p.add_argument("runs", type=Path, nargs="+", metavar="RUN", help="run folders")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    from rich.console import Console

    from ..reporting import draw_run_plots
    from ..runs import RunFolder
    from ..reporting.tables import print_summary

    console = Console()
    for path in args.runs:
        folder = RunFolder.open(path)
        written = draw_run_plots(folder.path)
        summary_file = folder.path / "summary.json"
        if summary_file.is_file():
            print_summary(console, json.loads(summary_file.read_text(encoding="utf-8")), folder.path)
        else:
            console.print(f"{folder.path}: not finished (no summary.json); learning curves drawn from metrics.csv")
        for p in written:
            console.print(f"  {p}")
    return 0
