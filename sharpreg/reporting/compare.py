"""Tables comparing finished runs (from their ``summary.json``): terminal, CSV and Markdown."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..runs import RunFolder, Summary


@dataclass
class ComparedRun:
    """A finished run in a comparison: its label (the folder name, made unique), path and summary."""

    label: str
    path: Path
    summary: Summary


def load_runs(paths: list[Path]) -> list[ComparedRun]:
    """The summaries of ``paths`` (run folders), each labelled by its folder name (made unique)."""
    runs = [ComparedRun(Path(p).resolve().name, Path(p), RunFolder(Path(p)).read_summary()) for p in paths]  # type: ignore[arg-type]
    seen: dict[str, int] = {}
    for r in runs:
        n = seen[r.label] = seen.get(r.label, 0) + 1
        if n > 1:
            r.label = f"{r.label} ({n})"
    return runs


def rows(runs: list[ComparedRun], metrics: list[str]) -> list[dict[str, Any]]:
    """One flat row per run: identity, each metric with its interval, gap, cost."""
    out = []
    for r in runs:
        s = r.summary
        row: dict[str, Any] = {"run": r.label, "recipe": s.recipe, "dataset": s.dataset, "model": s.model_label,
                               "optimizer": s.optimizer, "rule": s.rule, "seed": s.seed, "best_epoch": s.best_epoch,
                               "test_n": s.test_n}
        for m in metrics:
            lo, hi = s.test_ci.get(m) or [None, None]
            row[m] = s.test.get(m)
            row[f"{m}_low"], row[f"{m}_high"] = lo, hi
        row["gap_accuracy"] = s.generalization_gap.get("accuracy")
        row["passes_per_step"] = s.passes_per_step
        row["seconds"] = s.seconds
        out.append(row)
    return out


def groups(runs: list[ComparedRun], metrics: list[str]) -> list[dict[str, Any]]:
    """Runs that differ only in the seed, pooled: mean and sample std of each metric (groups of >= 2)."""
    pooled: dict[tuple, list[Summary]] = {}
    for r in runs:
        s = r.summary
        pooled.setdefault((s.recipe, s.dataset, s.model_label, s.optimizer, s.rule), []).append(s)
    out = []
    for key, members in pooled.items():
        if len(members) < 2:
            continue
        row: dict[str, Any] = {"recipe": key[0], "dataset": key[1], "model": key[2], "optimizer": key[3], "rule": key[4],
                               "runs": len(members), "seeds": sorted({m.seed for m in members}, key=str)}
        for m in metrics:
            vals = np.array([x.test.get(m) for x in members], dtype=float)
            vals = vals[np.isfinite(vals)]
            row[f"{m}_mean"] = float(vals.mean()) if len(vals) else None
            row[f"{m}_std"] = float(vals.std(ddof=1)) if len(vals) > 1 else None
        out.append(row)
    return out


def _cell(row: dict[str, Any], m: str, ci_digits: int = 3) -> str:
    v = row.get(m)
    if v is None:
        return "n/a"
    lo, hi = row.get(f"{m}_low"), row.get(f"{m}_high")
    d = ci_digits
    return f"{v:.3f} [{lo:.{d}f}, {hi:.{d}f}]" if lo is not None and hi is not None else f"{v:.3f}"


ID_COLS = ("run", "model", "rule", "seed", "best_epoch")


def to_csv(table: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    if table:
        w = csv.DictWriter(buf, list(table[0]), lineterminator="\n")
        w.writeheader()
        w.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in table)
    return buf.getvalue()


def to_markdown(table: list[dict[str, Any]], metrics: list[str] | tuple[str, ...], confidence: float = 0.95) -> str:
    head = [*ID_COLS, *metrics, "gap (acc.)", "s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * len(ID_COLS) + ["--:"] * (len(metrics) + 2)) + "|"]
    for row in table:
        cells = [str(row.get(c, "")) for c in ID_COLS] + [_cell(row, m) for m in metrics]
        cells += [f"{row['gap_accuracy']:+.3f}" if row.get("gap_accuracy") is not None else "n/a",
                  f"{row['seconds']:.0f}" if row.get("seconds") is not None else ""]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"Test-set metrics with {int(round(confidence * 100))} % percentile-bootstrap intervals in brackets; "
                 "gap = train minus test accuracy of the selected model.")
    return "\n".join(lines) + "\n"
