"""The one-screen summary printed at the end of a run (and by ``sharpreg report``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

HEADLINE = ("auroc", "balanced_accuracy", "accuracy", "f1_macro", "sensitivity", "specificity", "ece", "loss")


def fmt(value: Any, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def print_summary(console: Console, summary: dict[str, Any], run_path: Path) -> None:
    test, ci, gap = summary.get("test", {}), summary.get("test_ci", {}), summary.get("generalization_gap", {})
    pos = summary.get("positive_class")
    conf = int(round(100 * summary.get("ci", {}).get("confidence", 0.95)))
    table = Table(title=f"{summary['recipe']} · test set (n = {summary.get('test_n', '?')}) · best epoch "
                  f"{summary['best_epoch']} by val {summary['monitor']}", title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column(f"{conf} % CI", justify="right")
    table.add_column("train − test", justify="right")
    rows = [k for k in HEADLINE if k in test]
    rows += [k for k in test if k.startswith(("sensitivity_", "specificity_")) and k.split("_", 1)[1] != pos]
    for k in rows:
        lo, hi = (ci.get(k) or [None, None])
        label = f"{k} ({pos})" if k in ("sensitivity", "specificity") and pos in summary.get("classes", []) else k
        table.add_row(label, fmt(test[k]), f"{fmt(lo)} – {fmt(hi)}" if lo is not None else "",
                      f"{gap[k]:+.3f}" if k in gap else "")
    console.print(table)
    sharp = summary.get("sharpness", {}).get("sharpness")
    line = (f"{summary['epochs_run']}/{summary['epochs_planned']} epochs{' (early stop)' if summary.get('stopped_early') else ''}, "
            f"{summary['steps']} steps ({summary['skipped_steps']} skipped), {summary.get('passes_per_step')} passes/step, "
            f"rule {summary['rule']}, {summary['seconds']:.1f} s")
    if sharp and sharp.get("last") is not None:
        line += f"; sharpness L(w+e)−L(w) last epoch {sharp['last']:.4f}"
    console.print(line)
    console.print(f"run folder {run_path}: summary.json, metrics.csv, plots/, checkpoints/, model.safetensors")
