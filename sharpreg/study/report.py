"""The sweep report: ``report.md``, ``report.csv``, ``runs.csv`` and ``plots/`` in the sweep folder."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from ..errors import RunError
from ..metrics import table
from ..runs import RunFolder
from .aggregate import SHARPNESS_KEYS, WILCOXON_MIN_PAIRS, RunRecord, aggregate, collect, method_order, metric_names
from .manifest import RUNS

CSV_FIELDS = ("setting", "model", "method", "metric", "n", "mean", "std", "baseline_mean", "diff_mean", "diff_std",
              "n_pairs", "p_value", "test", "passes_per_step", "seconds_mean")


def _f(x: Any, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:.{digits}f}"


def _pm(mean: float, std: float, digits: int = 3) -> str:
    return _f(mean, digits) + ("" if std is None or math.isnan(std) else f" ± {_f(std, digits)}")


def _p(p: float) -> str:
    if p is None or math.isnan(p):
        return "–"
    return f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"


def _duration(seconds: float | None) -> str:
    if not seconds:
        return "–"
    h, rem = divmod(int(round(seconds)), 3600)
    m, s = divmod(rem, 60)
    return f"{h} h {m:02d} min" if h else f"{m} min {s:02d} s"


def write_report(sweep_dir: Path, *, plots: bool = True) -> Path:
    """Aggregate the finished runs of ``sweep_dir`` and write the report files; returns ``report.md``."""
    sweep_dir = Path(sweep_dir)
    records, manifest = collect(sweep_dir)
    if not records:
        raise RunError(f"{sweep_dir} has no finished run yet (no {RUNS}/*/{RunFolder.SUMMARY})")
    baseline = str(manifest.get("baseline", "none"))
    rows = aggregate(records, baseline)
    with (sweep_dir / "report.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, CSV_FIELDS, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
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
        from .plots import draw_metric_plots, draw_sharpness_scatter

        drawn = draw_metric_plots(records, sweep_dir / "plots", baseline)
        drawn += draw_sharpness_scatter(records, sweep_dir / "plots")
    md = sweep_dir / "report.md"
    md.write_text(render_markdown(records, rows, manifest, baseline, drawn), encoding="utf-8")
    return md


def render_markdown(records: list[RunRecord], rows: list[dict[str, Any]], manifest: dict[str, Any], baseline: str,
                    plots: list[str]) -> str:
    metrics = [m for m in table.names() if any(m in r.test for r in records)]
    out = _header(records, manifest, baseline)
    by = {(r["setting"], r["model"], r["method"], r["metric"]): r for r in rows}
    methods = method_order(records, baseline)
    for setting, model in sorted({(r["setting"], r["model"]) for r in rows}):
        present = [m for m in methods if (setting, model, m, metrics[0] if metrics else "") in by]
        out += [f"## {model}" + (f" · {setting}" if setting else ""), ""]
        out += _means_table(by, setting, model, present, metrics)
        out += _differences_table(by, setting, model, [m for m in present if m != baseline], metrics, baseline)
        out += _sharpness_section(records, by, setting, model, present)
    out += [f"Lower is better for {', '.join(table.lower_is_better_names())}; higher for the others. "
            "`report.csv` holds every metric (one row per setting × model × method × metric); `runs.csv` every run.", ""]
    if plots:
        out += ["## Plots", ""] + [f"![{Path(p).stem}](plots/{Path(p).name})" for p in plots] + [""]
    out += ["## Runs", "", "| run | model | method | seed | epochs | passes/step | seconds | auroc |", "|---|---|---|---|---:|---:|---:|---:|"]
    for r in sorted(records, key=lambda r: (r.setting, r.model, methods.index(r.method), r.seed)):
        out.append(f"| {r.id} | {r.model} | {r.method} | {r.seed} | {r.epochs_run or '–'} | {_f(r.passes_per_step, 2)} | "
                   f"{_f(r.seconds, 0)} | {_f(r.test.get('auroc'))} |")
    return "\n".join(out) + "\n"


def _header(records: list[RunRecord], manifest: dict[str, Any], baseline: str) -> list[str]:
    planned = manifest.get("runs", {})
    status: dict[str, int] = {}
    for run in planned.values():
        status[run.get("status", "?")] = status.get(run.get("status", "?"), 0) + 1
    out = [f"# Sweep report: {manifest.get('name', 'sweep')}", ""]
    if manifest.get("description"):
        out += [manifest["description"], ""]
    seeds = sorted({r.seed for r in records})
    out += [f"- finished runs: {len(records)}" + (f" of {len(planned)} planned (" + ", ".join(f"{v} {k}" for k, v in sorted(status.items())) + ")" if planned else ""),
            f"- seeds (replicates): {len(seeds)} ({', '.join(seeds)})",
            f"- sweep wall time: {_duration(manifest.get('wall_seconds'))}; run time summed: "
            f"{_duration(sum(r.seconds or 0 for r in records))}",
            f"- baseline: `sharpness.name = \"{baseline}\"` (same model, same seed)",
            f"- paired test: Wilcoxon signed-rank (two-sided) with >= {WILCOXON_MIN_PAIRS} pairs, else the exact "
            "sign-flip permutation test of the mean difference (two-sided; with n pairs its smallest p-value is "
            "2/2^n, 0.25 for 3 seeds)", ""]
    if manifest.get("recipe"):
        out += [f"Base recipe `{manifest['recipe']}`; grid file `{manifest.get('grid_file', '')}`.", ""]
    return out


def _means_table(by: dict, setting: str, model: str, methods: list[str], metrics: list[str]) -> list[str]:
    out = ["Test metrics, mean ± std over seeds (n = runs):", "",
           "| method | n | " + " | ".join(metrics) + " | passes/step | s/run |",
           "|---|---:|" + "---:|" * len(metrics) + "---:|---:|"]
    for m in methods:
        first = by[(setting, model, m, metrics[0])]
        cells = [_pm(by[(setting, model, m, k)]["mean"], by[(setting, model, m, k)]["std"])
                 if (setting, model, m, k) in by else "–" for k in metrics]
        out.append(f"| {m} | {first['n']} | " + " | ".join(cells) + f" | {_f(first['passes_per_step'], 2)} | "
                   f"{_f(first['seconds_mean'], 0)} |")
    return out


def _differences_table(by: dict, setting: str, model: str, methods: list[str], metrics: list[str],
                       baseline: str) -> list[str]:
    out = ["", f"Paired difference to `{baseline}` (mean over seeds, p-value of the paired test):", "",
           "| method | pairs | " + " | ".join(f"Δ {k}" for k in metrics) + " |",
           "|---|---:|" + "---:|" * len(metrics)]
    for m in methods:
        cells, n_pairs = [], 0
        for k in metrics:
            r = by.get((setting, model, m, k))
            if not r or "diff_mean" not in r:
                cells.append("–")
                continue
            n_pairs = max(n_pairs, r["n_pairs"])
            cells.append(f"{r['diff_mean']:+.3f} (p {_p(r['p_value'])})" if not math.isnan(r["diff_mean"]) else "–")
        out.append(f"| {m} | {n_pairs} | " + " | ".join(cells) + " |")
    return out + [""]


def _sharpness_section(records: list[RunRecord], by: dict, setting: str, model: str, methods: list[str]) -> list[str]:
    runs = [r for r in records if r.group == (setting, model) and r.sharpness]
    if not runs:
        return []
    out = ["Sharpness of the minima found (`sharpreg sharpness RUN`; training subset, BN in eval mode):", "",
           "| method | runs measured | λ_max | trace | test auroc |", "|---|---:|---:|---:|---:|"]
    for m in methods:
        sel = [r for r in runs if r.method == m]
        if not sel:
            continue
        cells = []
        for k in SHARPNESS_KEYS:
            row = by.get((setting, model, m, f"sharpness_{k}"))
            cells.append(_pm(row["mean"], row["std"], 2) if row else "–")
        auroc = by.get((setting, model, m, "auroc"))
        out.append(f"| {m} | {len(sel)} | " + " | ".join(cells) + f" | {_pm(auroc['mean'], auroc['std']) if auroc else '–'} |")
    pairs = [(r.sharpness.get("lambda_max"), r.test.get("auroc")) for r in runs]
    pairs = [(a, b) for a, b in pairs if a is not None and b is not None]
    if len(pairs) >= 4:
        from scipy.stats import spearmanr

        res = spearmanr([a for a, _ in pairs], [b for _, b in pairs])
        out += ["", f"Spearman correlation of λ_max and test AUROC over the {len(pairs)} measured runs: "
                f"ρ = {res.statistic:+.2f} (p {_p(float(res.pvalue))})."]
    return out + [""]
