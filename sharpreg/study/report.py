"""The sweep report: ``report.md``, ``report.csv``, ``per_case.csv``, ``runs.csv`` and ``plots/`` in the
sweep folder (the Markdown is ``report_md.py``'s)."""

from __future__ import annotations

import csv
from pathlib import Path

from ..errors import RunError
from ..runs import RunFolder
from .aggregate import SHARPNESS_KEYS, aggregate, collect, metric_names
from .manifest import RUNS
from .pooled import per_case_tests
from .report_md import render_markdown

CSV_FIELDS = ("setting", "model", "method", "metric", "n", "mean", "std", "baseline_mean", "diff_mean", "diff_std",
              "diff_ci_low", "diff_ci_high", "n_pairs", "p_value", "p_value_holm", "test", "passes_per_step", "compute",
              "seconds_mean")
PER_CASE_FIELDS = ("setting", "model", "method", "metric", "cases", "positives", "seeds", "method_auroc",
                   "baseline_auroc", "diff", "se", "ci_low", "ci_high", "z", "p_value", "p_holm")


def _write_csv(path: Path, fields: tuple[str, ...], rows: list[dict]) -> None:
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fields, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)


def write_report(sweep_dir: Path, *, plots: bool = True) -> Path:
    """Aggregate the finished runs of ``sweep_dir`` and write the report files; returns ``report.md``."""
    sweep_dir = Path(sweep_dir)
    records, manifest = collect(sweep_dir)
    if not records:
        raise RunError(f"{sweep_dir} has no finished run yet (no {RUNS}/*/{RunFolder.SUMMARY})")
    baseline = str(manifest.get("baseline", "none"))
    rows = aggregate(records, baseline)
    cases = per_case_tests(records, baseline)
    _write_csv(sweep_dir / "report.csv", CSV_FIELDS, rows)
    _write_csv(sweep_dir / "per_case.csv", PER_CASE_FIELDS, cases)
    metrics = metric_names(records)
    with (sweep_dir / "runs.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["run", "setting", "model", "method", "seed", "epochs_run", "passes_per_step", "seconds", "wall_seconds",
                    *metrics, *(f"sharpness_{k}" for k in SHARPNESS_KEYS)])
        for r in records:
            w.writerow([r.id, r.setting, r.model, r.method, r.seed, r.epochs_run, r.passes_per_step, r.seconds, r.wall_seconds,
                        *(r.test.get(m) for m in metrics), *(r.sharpness.get(k) for k in SHARPNESS_KEYS)])
    drawn: list[str] = []
    if plots:
        from .plots import draw_metric_plots, draw_reliability, draw_sharpness_scatter

        drawn = draw_metric_plots(records, sweep_dir / "plots", baseline)
        drawn += draw_reliability(records, sweep_dir / "plots", baseline)
        drawn += draw_sharpness_scatter(records, sweep_dir / "plots")
    md = sweep_dir / "report.md"
    md.write_text(render_markdown(records, rows, cases, manifest, baseline, drawn), encoding="utf-8")
    return md
