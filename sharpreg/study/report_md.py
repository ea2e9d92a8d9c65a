"""``report.md``: per model the test metrics, the paired differences with intervals and Holm-corrected
p-values, the per-case test on pooled out-of-fold predictions, the sharpness measures and their relation
to test AUROC; the plots and every run."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ..metrics import table
from .aggregate import PRIMARY, SHARPNESS_KEYS, SHARPNESS_LABELS, WILCOXON_MIN_PAIRS, RunRecord, method_order
from .stats import spearman_interval


def fmt(x: Any, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:.{digits}f}"


def fmt_pm(mean: float, std: float, digits: int = 3) -> str:
    return fmt(mean, digits) + ("" if std is None or math.isnan(std) else f" ± {fmt(std, digits)}")


def fmt_p(p: float | None) -> str:
    if p is None or math.isnan(p):
        return "–"
    return f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"


def fmt_ci(low: float, high: float, digits: int = 3) -> str:
    return "" if math.isnan(low) else f" [{low:+.{digits}f}, {high:+.{digits}f}]"


def _duration(seconds: float | None) -> str:
    if not seconds:
        return "–"
    h, rem = divmod(int(round(seconds)), 3600)
    m, s = divmod(rem, 60)
    return f"{h} h {m:02d} min" if h else f"{m} min {s:02d} s"


def render_markdown(records: list[RunRecord], rows: list[dict[str, Any]], cases: list[dict[str, Any]],
                    manifest: dict[str, Any], baseline: str, plots: list[str]) -> str:
    metrics = [m for m in table.names() if any(m in r.test for r in records)]
    out = _header(records, manifest, baseline)
    by = {(r["setting"], r["model"], r["method"], r["metric"]): r for r in rows}
    methods = method_order(records, baseline)
    for setting, model in sorted({(r["setting"], r["model"]) for r in rows}):
        present = [m for m in methods if (setting, model, m, metrics[0] if metrics else "") in by]
        out += [f"## {model}" + (f" · {setting}" if setting else ""), ""]
        out += _means_table(by, setting, model, present, metrics)
        out += _differences_table(by, setting, model, [m for m in present if m != baseline], metrics, baseline)
        out += _per_case_table([c for c in cases if (c["setting"], c["model"]) == (setting, model)], baseline)
        out += _sharpness_section(records, by, setting, model, present)
    out += [f"Lower is better for {', '.join(table.lower_is_better_names())}; higher for the others. "
            "`report.csv` holds every metric (one row per setting × model × method × metric), `per_case.csv` the "
            "per-case tests, `runs.csv` every run.", ""]
    if plots:
        out += ["## Plots", ""] + [f"![{Path(p).stem}](plots/{Path(p).name})" for p in plots] + [""]
    out += ["## Runs", "", "| run | model | method | seed | epochs | passes/step | seconds | auroc |", "|---|---|---|---|---:|---:|---:|---:|"]
    for r in sorted(records, key=lambda r: (r.setting, r.model, methods.index(r.method), r.seed)):
        out.append(f"| {r.id} | {r.model} | {r.method} | {r.seed} | {r.epochs_run or '–'} | {fmt(r.passes_per_step, 2)} | "
                   f"{fmt(r.seconds, 0)} | {fmt(r.test.get('auroc'))} |")
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
    replicates = ", ".join(manifest.get("replicates", ["train.seed"]))
    out += [f"- finished runs: {len(records)}" + (f" of {len(planned)} planned (" + ", ".join(f"{v} {k}" for k, v in sorted(status.items())) + ")" if planned else ""),
            f"- replicates ({replicates}): {len(seeds)} ({', '.join(seeds)})",
            f"- sweep wall time: {_duration(manifest.get('wall_seconds'))}; run time summed: "
            f"{_duration(sum(r.seconds or 0 for r in records))}",
            f"- baseline: `{baseline}` (same model, setting and replicate)",
            f"- primary metric: **{PRIMARY}**. Holm's correction covers its tests over every method × model of a "
            "setting; p-values of the other metrics are nominal (descriptive)",
            f"- paired test over replicates: Wilcoxon signed-rank (two-sided) with >= {WILCOXON_MIN_PAIRS} pairs, else "
            "the exact sign-flip permutation test of the mean difference (two-sided; with n pairs its smallest "
            "p-value is 2/2^n, 0.25 for 3); the effect is the mean paired difference with its Student-t 95 % "
            "interval (pairs of one fold share test images: descriptive)",
            "- per-case test: DeLong's test of the seed-mean AUROCs on the pooled out-of-fold predictions (the "
            "images are the sample), Holm-corrected over methods × models", ""]
    tune = (manifest.get("grid") or {}).get("tune")
    if tune:
        out += [f"Each method's key hyper-parameter was chosen per fold on validation by tuning runs (`tune/`, "
                f"metric {tune.get('metric')}); the choices are in `tune/selection.csv`.", ""]
    if manifest.get("recipe"):
        out += [f"Base recipe `{manifest['recipe']}`; grid file `{manifest.get('grid_file', '')}`.", ""]
    return out


def _means_table(by: dict, setting: str, model: str, methods: list[str], metrics: list[str]) -> list[str]:
    out = ["Test metrics, mean ± std over replicates (n = runs); compute = forward/backward passes relative to "
           "the baseline:", "",
           "| method | n | " + " | ".join(metrics) + " | passes/step | compute | s/run |",
           "|---|---:|" + "---:|" * len(metrics) + "---:|---:|---:|"]
    for m in methods:
        first = by[(setting, model, m, metrics[0])]
        cells = [fmt_pm(by[(setting, model, m, k)]["mean"], by[(setting, model, m, k)]["std"])
                 if (setting, model, m, k) in by else "–" for k in metrics]
        compute = first.get("compute", math.nan)
        out.append(f"| {m} | {first['n']} | " + " | ".join(cells) + f" | {fmt(first['passes_per_step'], 2)} | "
                   f"{'–' if math.isnan(compute) else f'{compute:.2f}×'} | {fmt(first['seconds_mean'], 0)} |")
    return out


def _differences_table(by: dict, setting: str, model: str, methods: list[str], metrics: list[str],
                       baseline: str) -> list[str]:
    out = ["", f"Paired difference to `{baseline}` over replicates: {PRIMARY} as mean [95 % CI] (p, Holm p), the "
           "others as mean (nominal p):", "",
           "| method | pairs | " + " | ".join(f"Δ {k}" for k in metrics) + " |",
           "|---|---:|" + "---:|" * len(metrics)]
    for m in methods:
        cells, n_pairs = [], 0
        for k in metrics:
            r = by.get((setting, model, m, k))
            if not r or "diff_mean" not in r or math.isnan(r["diff_mean"]):
                cells.append("–")
                continue
            n_pairs = max(n_pairs, r["n_pairs"])
            if k == PRIMARY:
                cells.append(f"**{r['diff_mean']:+.3f}**{fmt_ci(r['diff_ci_low'], r['diff_ci_high'])} "
                             f"(p {fmt_p(r['p_value'])}, Holm {fmt_p(r.get('p_value_holm'))})")
            else:
                cells.append(f"{r['diff_mean']:+.3f} (p {fmt_p(r['p_value'])})")
        out.append(f"| {m} | {n_pairs} | " + " | ".join(cells) + " |")
    return out + [""]


def _per_case_table(cases: list[dict[str, Any]], baseline: str) -> list[str]:
    if not cases:
        return []
    out = [f"Per-case test against `{baseline}` on pooled out-of-fold predictions (DeLong; AUROC averaged over "
           "seeds):", "", "| method | seeds | cases (positive) | AUROC | baseline AUROC | Δ [95 % CI] | p | Holm p |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for c in cases:
        out.append(f"| {c['method']} | {c['seeds']} | {c['cases']} ({c['positives']}) | {fmt(c['method_auroc'])} | "
                   f"{fmt(c['baseline_auroc'])} | {c['diff']:+.3f}{fmt_ci(c['ci_low'], c['ci_high'])} | "
                   f"{fmt_p(c['p_value'])} | {fmt_p(c['p_holm'])} |")
    return out + [""]


def _sharpness_section(records: list[RunRecord], by: dict, setting: str, model: str, methods: list[str]) -> list[str]:
    runs = [r for r in records if r.group == (setting, model) and r.sharpness]
    if not runs:
        return []
    keys = [k for k in SHARPNESS_KEYS if any(k in r.sharpness for r in runs)]
    out = ["Sharpness of the minima found (`sharpreg sharpness RUN`; training subset, BN in eval mode), mean ± std:", "",
           "| method | runs measured | " + " | ".join(SHARPNESS_LABELS[k] for k in keys) + " | test auroc |",
           "|---|---:|" + "---:|" * len(keys) + "---:|"]
    for m in methods:
        sel = [r for r in runs if r.method == m]
        if not sel:
            continue
        cells = []
        for k in keys:
            row = by.get((setting, model, m, f"sharpness_{k}"))
            cells.append(fmt_pm(row["mean"], row["std"], 3 if k.startswith("adaptive") else 2) if row else "–")
        auroc = by.get((setting, model, m, "auroc"))
        out.append(f"| {m} | {len(sel)} | " + " | ".join(cells) + f" | {fmt_pm(auroc['mean'], auroc['std']) if auroc else '–'} |")
    out += ["", f"Relation to test {PRIMARY} over the measured runs of this model: Spearman's ρ with a 95 % bootstrap "
            "interval over runs (no p-value: with few runs the interval shows how little they can say):", "",
            "| measure | runs | ρ [95 % CI] |", "|---|---:|---:|"]
    for k in keys:
        pairs = [(r.sharpness[k], r.test[PRIMARY]) for r in runs if k in r.sharpness and PRIMARY in r.test]
        c = spearman_interval([a for a, _ in pairs], [b for _, b in pairs])
        out.append(f"| {SHARPNESS_LABELS[k]} | {c.n} | {fmt(c.rho, 2)}{fmt_ci(c.ci_low, c.ci_high, 2)} |")
    return out + [""]
