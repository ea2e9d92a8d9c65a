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
    from ..console import make_console
    from ..reporting import draw_run_plots
    from ..reporting.tables import print_summary
    from ..runs import RunFolder

    console = make_console()
    for path in args.runs:
        folder = RunFolder.open(path)
        written = draw_run_plots(folder)
        summary = folder.read_summary(missing_ok=True)
        if summary is not None:
            print_summary(console, summary, folder.path)
        else:
            console.print(f"{folder.path}: not finished (no {folder.SUMMARY}); learning curves drawn from {folder.METRICS}")
        for p in written:
            console.print(f"  {p}")
    return 0
