"""Console tables of test metrics: the one-screen summary of a run (end of training, ``sharpreg report``)
and of an evaluation on another data set (``sharpreg evaluate``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from ..metrics import table
from ..runs import RunFolder, Summary


def fmt(value: Any, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def metric_rows(values: dict[str, Any], intervals: dict[str, Any], *, positive: str | None, classes: list[str],
                gap: dict[str, float] | None = None) -> list[tuple[str, str, str, str]]:
    """(metric, value, interval, train − test gap) rows: the table's metrics in order, the recipe's plugin
    metrics, then the per-class sensitivity/specificity of the classes other than the positive one."""
    builtin = table.names()
    keys = [k for k in builtin if k in values]
    keys += [k for k in values if k not in builtin and ((m := table.metric_of(k)) is None or m.name == k)]
    keys += [k for k in values if (m := table.metric_of(k)) is not None and m.per_class and k != m.name
             and k != f"{m.name}_{positive}"]
    rows = []
    for k in keys:
        lo, hi = intervals.get(k) or [None, None]
        m = table.metric_of(k)
        shown = f"{k} ({positive})" if m is not None and m.per_class and k == m.name and positive in classes else k
        rows.append((shown, fmt(values[k]), f"{fmt(lo)} – {fmt(hi)}" if lo is not None else "",
                     f"{gap[k]:+.3f}" if gap is not None and k in gap else ""))
    return rows


def print_summary(console: Console, summary: Summary, run_path: Path) -> None:
    conf = int(round(100 * summary.ci.confidence))
    out = Table(title=f"{summary.recipe} · test set (n = {summary.test_n if summary.test_n is not None else '?'}) · "
                f"best epoch {summary.best_epoch} by val {summary.monitor}", title_justify="left")
    out.add_column("metric")
    out.add_column("value", justify="right")
    out.add_column(f"{conf} % CI", justify="right")
    out.add_column("train − test", justify="right")
    for row in metric_rows(summary.test, summary.test_ci, positive=summary.positive_class, classes=summary.classes,
                           gap=summary.generalization_gap):
        out.add_row(*row)
    console.print(out)
    sharp = summary.sharpness.get("sharpness")
    line = (f"{summary.epochs_run}/{summary.epochs_planned} epochs{' (early stop)' if summary.stopped_early else ''}, "
            f"{summary.steps} steps ({summary.skipped_steps} skipped), {summary.passes_per_step} passes/step, "
            f"rule {summary.rule}, {fmt(summary.seconds, 1)} s")
    if sharp is not None and sharp.last is not None:
        line += f"; sharpness L(w+e)−L(w) last epoch {sharp.last:.4f}"
    console.print(line)
    console.print(f"run folder {run_path}: {RunFolder.SUMMARY}, {RunFolder.METRICS}, {RunFolder.PLOTS}/, "
                  f"{RunFolder.CHECKPOINTS}/, {RunFolder.MODEL}")
