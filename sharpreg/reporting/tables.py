"""Console tables of test metrics: the one-screen summary of a run (end of training, ``sharpreg report``)
and of an evaluation on another data set (``sharpreg evaluate``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from ..metrics import table


def fmt(value: Any, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def metric_rows(values: dict[str, Any], intervals: dict[str, Any], *, positive: str | None, classes: list[str],
                gap: dict[str, float] | None = None) -> list[tuple[str, str, str, str]]:
    """(metric, value, interval, train − test gap) rows: the table's metrics in order, then the
    per-class sensitivity/specificity of the classes other than the positive one."""
    keys = [k for k in table.names() if k in values]
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


def print_summary(console: Console, summary: dict[str, Any], run_path: Path) -> None:
    test, ci, gap = summary.get("test", {}), summary.get("test_ci", {}), summary.get("generalization_gap", {})
    pos = summary.get("positive_class")
    conf = int(round(100 * summary.get("ci", {}).get("confidence", 0.95)))
    out = Table(title=f"{summary['recipe']} · test set (n = {summary.get('test_n', '?')}) · best epoch "
                f"{summary['best_epoch']} by val {summary['monitor']}", title_justify="left")
    out.add_column("metric")
    out.add_column("value", justify="right")
    out.add_column(f"{conf} % CI", justify="right")
    out.add_column("train − test", justify="right")
    for row in metric_rows(test, ci, positive=pos, classes=summary.get("classes", []), gap=gap):
        out.add_row(*row)
    console.print(out)
    sharp = summary.get("sharpness", {}).get("sharpness")
    line = (f"{summary['epochs_run']}/{summary['epochs_planned']} epochs{' (early stop)' if summary.get('stopped_early') else ''}, "
            f"{summary['steps']} steps ({summary['skipped_steps']} skipped), {summary.get('passes_per_step')} passes/step, "
            f"rule {summary['rule']}, {summary['seconds']:.1f} s")
    if sharp and sharp.get("last") is not None:
        line += f"; sharpness L(w+e)−L(w) last epoch {sharp['last']:.4f}"
    console.print(line)
    console.print(f"run folder {run_path}: summary.json, metrics.csv, plots/, checkpoints/, model.safetensors")
