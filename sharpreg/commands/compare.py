"""``sharpreg compare RUN...``: a table of finished runs (terminal, CSV, Markdown) and a comparison plot."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.text import Text


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="compare finished runs: table (terminal, CSV, Markdown) and plot",
                       description="Compare the test metrics (with bootstrap intervals) of finished runs. Runs that "
                       "differ only in their seed are also pooled (mean ± std).")
    p.add_argument("runs", type=Path, nargs="+", metavar="RUN", help="run folders")
    p.add_argument("--metrics", default=None, help="comma-separated metrics (default: auroc, balanced_accuracy, "
                   "f1_macro, sensitivity, specificity, ece)")
    p.add_argument("--csv", nargs="?", const="-", default=None, metavar="FILE", help="write CSV (to FILE, or stdout)")
    p.add_argument("--markdown", nargs="?", const="-", default=None, metavar="FILE",
                   help="write a Markdown table (to FILE, or stdout)")
    p.add_argument("--plot", type=Path, default=Path("comparison.png"), help="comparison plot (default: comparison.png)")
    p.add_argument("--no-plot", action="store_true", help="do not draw the plot")
    p.set_defaults(func=run)


def _two_lines(row: dict, m: str) -> str | Text:
    """The value over its interval (keeps the terminal table narrow)."""
    from ..console import styled

    v, lo, hi = row.get(m), row.get(f"{m}_low"), row.get(f"{m}_high")
    if v is None:
        return "n/a"
    return styled(f"{v:.3f}\n", (f"{lo:.2f}–{hi:.2f}", "dim")) if lo is not None and hi is not None else f"{v:.3f}"


def _emit(text: str, target: str) -> None:
    if target == "-":
        sys.stdout.write(text)
    else:
        Path(target).write_text(text, encoding="utf-8")


def run(args: argparse.Namespace) -> int:
    from rich import box
    from ..console import make_console
    from rich.measure import Measurement
    from rich.table import Table

    from ..errors import SharpregError
    from ..metrics import table
    from ..reporting import compare as cmp

    metrics = [m.strip() for m in args.metrics.split(",")] if args.metrics else table.compare_defaults()
    known = set(table.names())
    runs = cmp.load_runs(args.runs)
    for r in runs:
        known |= set(r.summary.test)
    bad = [m for m in metrics if m not in known]
    if bad:
        raise SharpregError(f"unknown metric {bad[0]!r}; the runs have: {', '.join(sorted(known))}")
    found = cmp.rows(runs, metrics)
    confidence = runs[0].summary.ci.confidence
    if args.csv:
        _emit(cmp.to_csv(found), args.csv)
    if args.markdown:
        _emit(cmp.to_markdown(found, metrics, confidence), args.markdown)
    console = make_console()
    if not (args.csv == "-" or args.markdown == "-"):
        t = Table(title=f"test set · value over its {int(round(confidence * 100))} % bootstrap interval", title_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
        for c in cmp.ID_COLS:
            t.add_column({"best_epoch": "best"}.get(c, c), no_wrap=True)
        for m in metrics:
            t.add_column(table.short(m), justify="right", no_wrap=True)
        t.add_column("gap\n(acc.)", justify="right", no_wrap=True)
        t.add_column("s", justify="right", no_wrap=True)
        for row in found:
            t.add_row(*[str(row.get(c, "")) for c in cmp.ID_COLS], *[_two_lines(row, m) for m in metrics],
                      f"{row['gap_accuracy']:+.3f}" if row.get("gap_accuracy") is not None else "n/a",
                      f"{row['seconds']:.0f}" if row.get("seconds") is not None else "")
        wide = Measurement.get(console, console.options.update_width(10_000), t).maximum
        (make_console(width=wide) if wide > console.width else console).print(t)  # never cut a number short
        pooled = cmp.groups(runs, metrics)
        if pooled:
            g = Table(title="runs differing only in the seed: mean ± std", title_justify="left")
            for c in ("model", "rule", "runs"):
                g.add_column(c)
            for m in metrics:
                g.add_column(m, justify="right")
            for row in pooled:
                g.add_row(str(row["model"]), str(row["rule"]), str(row["runs"]),
                          *[f"{row[f'{m}_mean']:.3f} ± {row[f'{m}_std']:.3f}" if row.get(f"{m}_std") is not None else "n/a"
                            for m in metrics])
            console.print(g)
    if not args.no_plot:
        from ..reporting.plots import comparison

        path = comparison(runs, metrics, args.plot, confidence=confidence)
        make_console(stderr=True).print(f"comparison plot: {path}")
    return 0
