"""Aggregate a sweep: per method x model, mean ± std over replicates (folds x seeds), paired differences to
the baseline with their interval, and Holm's correction over the family of the primary metric.

Paired test (per metric, pairs = same setting, model and replicate, method vs baseline):
* n >= 6 pairs: Wilcoxon signed-rank test (``scipy.stats.wilcoxon``, two-sided, zero differences dropped);
* n < 6 pairs: exact sign-flip permutation test on the mean difference (all 2^n sign patterns,
  two-sided). With n = 3 the smallest attainable p-value is 2/8 = 0.25: three seeds cannot show
  significance at 0.05, whatever the effect; the report says so.
The effect size is the mean paired difference with its Student-t 95 % interval. Pairs of one fold share
their test images, so folds x seeds pairs are not independent: read the interval as descriptive and the
per-case test (``pooled.py``) as the test over cases.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import RunError
from ..metrics import table
from ..runs import Summary
from .manifest import read_manifest, run_folders
from .stats import holm, mean_interval

WILCOXON_MIN_PAIRS = 6
#: the declared primary metric: the family that Holm's correction covers, and the per-case test's metric
PRIMARY = "auroc"
SHARPNESS_KEYS = ("lambda_max", "trace", "weight_norm", "adaptive_sharpness_avg", "adaptive_sharpness_max")
SHARPNESS_LABELS = {"lambda_max": "λ_max", "trace": "trace", "weight_norm": "‖w‖",
                    "adaptive_sharpness_avg": "adaptive avg", "adaptive_sharpness_max": "adaptive max"}


@dataclass
class RunRecord:
    """One finished run, labelled for grouping."""

    id: str
    method: str
    model: str
    seed: str
    """the replicate the run is paired on (e.g. fold and seed: ``0,1``)"""
    test: dict[str, float]
    setting: str = ""
    seconds: float | None = None
    passes_per_step: float | None = None
    epochs_run: int | None = None
    sharpness: dict[str, float] = field(default_factory=dict)
    wall_seconds: float | None = None
    """the run's wall time in the sweep (process start to end, from sweep.json)"""
    path: Path | None = None
    train_seed: str = ""
    """``train.seed``: the folds of one seed pool into out-of-fold predictions"""
    steps: int | None = None
    classes: list[str] = field(default_factory=list)
    positive_class: str | None = None

    @property
    def passes(self) -> float | None:
        """Forward/backward passes over the whole run."""
        return self.steps * self.passes_per_step if self.steps and self.passes_per_step else None

    @property
    def group(self) -> tuple[str, str]:
        return (self.setting, self.model)


@dataclass
class PairedResult:
    n: int
    mean: float
    std: float
    p_value: float
    test: str


# -- statistics -----------------------------------------------------------------------------------
def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof = 1; NaN for one value). NaN values are ignored."""
    x = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=np.float64)
    if x.size == 0:
        return math.nan, math.nan
    return float(x.mean()), float(x.std(ddof=1)) if x.size > 1 else math.nan


def sign_flip_pvalue(diffs: Sequence[float]) -> float:
    """Exact two-sided sign-flip permutation p-value of the mean paired difference."""
    d = np.asarray(diffs, dtype=np.float64)
    if d.size == 0:
        return math.nan
    observed = abs(d.sum())
    if observed == 0:
        return 1.0
    if d.size <= 16:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=d.size)))
    else:  # Monte Carlo with a fixed seed (the identity pattern included)
        rng = np.random.default_rng(0)
        signs = np.vstack([np.ones(d.size), rng.choice((1.0, -1.0), size=(19_999, d.size))])
    stats = np.abs(signs @ d)
    return float(np.mean(stats >= observed - 1e-12 * max(1.0, observed)))


def paired_test(diffs: Sequence[float]) -> PairedResult:
    """Paired test of ``diffs`` (method − baseline): Wilcoxon for n >= 6, else exact sign-flip."""
    d = np.asarray([x for x in diffs if x is not None and not math.isnan(x)], dtype=np.float64)
    n = int(d.size)
    mean, std = mean_std(d.tolist())
    if n == 0:
        return PairedResult(0, math.nan, math.nan, math.nan, "none")
    if n >= WILCOXON_MIN_PAIRS:
        from scipy.stats import wilcoxon

        if np.all(d == 0):
            return PairedResult(n, mean, std, 1.0, "wilcoxon")
        return PairedResult(n, mean, std, float(wilcoxon(d, alternative="two-sided").pvalue), "wilcoxon")
    return PairedResult(n, mean, std, sign_flip_pvalue(d), "sign-flip")


# -- collecting runs ------------------------------------------------------------------------------
def _fmt_value(v: Any) -> str:
    return json.dumps(v) if not isinstance(v, str) else v


def _finished(sweep_dir: Path) -> list[tuple[str, Summary, dict[str, Any] | None]]:
    """(run id, summary, sharpness measurement) of every run of the sweep with test metrics."""
    found = []
    for run in run_folders(sweep_dir):
        try:
            summary = run.read_summary(missing_ok=True)
        except RunError:  # an unreadable summary: the run counts as unfinished
            continue
        if summary is not None and summary.test:
            found.append((run.path.name, summary, run.read_sharpness()))
    return found


def _not_settings(manifest: dict[str, Any]) -> tuple[set[str], set[str]]:
    """Keys that vary but are not settings: those of the methods (set by variants, tuned), and those that
    travel with the model (zip tables that hold model.arch or model.name)."""
    grid = manifest.get("grid") or {}
    method_keys = {k for v in grid.get("variants") or [] for k in _flat(v) if k != "label"}
    for table_ in ((grid.get("tune") or {}).get("candidates") or {}).values():
        method_keys |= set(_flat(table_, times=True))
    model_keys: set[str] = set()
    for table_ in (grid.get("zip") or {}).values():
        keys = set(_flat(table_))
        if keys & {"model.arch", "model.name"}:
            model_keys |= keys
    return method_keys | {"eval.score_test", "eval.bootstrap"}, model_keys


def _flat(table_: dict[str, Any], prefix: str = "", *, times: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in table_.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict) and not (times and set(v) == {"times"}):
            out.update(_flat(v, key, times=times))
        else:
            out[key] = v
    return out


def collect(sweep_dir: Path) -> tuple[list[RunRecord], dict[str, Any]]:
    """Finished runs of a sweep folder, labelled by method (the variant's label, else the rule), model,
    setting and replicate."""
    sweep_dir = Path(sweep_dir)
    manifest = read_manifest(sweep_dir)
    replicates = list(manifest.get("replicates", ["train.seed"]))
    planned = manifest.get("runs", {})
    raw = [(rid, summary, dict(planned.get(rid, {}).get("values", {})), sharp)
           for rid, summary, sharp in _finished(sweep_dir)]
    position = {rid: i for i, rid in enumerate(planned)}
    raw.sort(key=lambda item: position.get(item[0], len(position)))  # the grid's order: methods as listed
    varying = _varying_keys([v for _, _, v, _ in raw])
    method_keys, model_keys = _not_settings(manifest)
    rules = {rid: str(values.get("sharpness.name", summary.rule or "?")) for rid, summary, values, _ in raw}
    # a rule's parameters enter its label only where runs of that rule differ in them
    per_rule = {rule: _varying_keys([v for rid, _, v, _ in raw if rules[rid] == rule]) for rule in set(rules.values())}
    records = []
    for rid, summary, values, sharp in raw:
        rule = rules[rid]
        variant = planned.get(rid, {}).get("variant")
        extra_m = [k for k in per_rule[rule] if k.startswith("sharpness.") and k != "sharpness.name" and k in values]
        extra_a = [k for k in varying if k.startswith("model.") and k not in ("model.arch", "model.name")
                   and k not in model_keys and k in values]
        other = [k for k in varying if not k.startswith(("sharpness.", "model.")) and k not in replicates
                 and k not in method_keys | model_keys and k in values]
        setting = ", ".join(f"{k}={_fmt_value(values[k])}" for k in other)
        rep = ",".join(f"{values[k]}" for k in replicates if k in values) or str(summary.seed if summary.seed is not None else "?")
        sharpness = {k: float(sharp[k]) for k in SHARPNESS_KEYS if sharp and isinstance(sharp.get(k), (int, float))}
        records.append(RunRecord(
            rid, str(variant) if variant else rule + _suffix(extra_m, values), summary.model_label + _suffix(extra_a, values),
            rep, summary.test_values(), setting, summary.seconds, summary.passes_per_step, summary.epochs_run, sharpness,
            planned.get(rid, {}).get("seconds"), path=sweep_dir / "runs" / rid,
            train_seed=str(values.get("train.seed", summary.seed if summary.seed is not None else "")), steps=summary.steps,
            classes=list(summary.classes), positive_class=summary.positive_class))
    return records, manifest


def _suffix(keys: list[str], values: dict[str, Any]) -> str:
    """`` (rho=0.1, eta=0.01)`` for the given dotted keys, or nothing."""
    if not keys:
        return ""
    return " (" + ", ".join(f"{k.split('.', 1)[1]}={_fmt_value(values[k])}" for k in keys) + ")"


def _varying_keys(all_values: list[dict[str, Any]]) -> list[str]:
    keys = sorted({k for v in all_values for k in v})
    out = []
    for k in keys:
        seen = {json.dumps(v.get(k), sort_keys=True, default=str) for v in all_values}
        if len(seen) > 1:
            out.append(k)
    return out


# -- tables -----------------------------------------------------------------------------------------
def metric_names(records: list[RunRecord]) -> list[str]:
    """Test metrics present, the headline ones first."""
    found: list[str] = []
    for r in records:
        found += [k for k in r.test if k not in found]
    return table.ordered(found)


def method_order(records: list[RunRecord], baseline: str) -> list[str]:
    methods: list[str] = []
    for r in records:
        if r.method not in methods:
            methods.append(r.method)
    return sorted(methods, key=lambda m: (m != baseline, methods.index(m)))


def aggregate(records: list[RunRecord], baseline: str = "none") -> list[dict[str, Any]]:
    """One row per (setting, model, method, metric): n, mean, std and the paired difference to the baseline."""
    rows = []
    metrics = metric_names(records) + [f"sharpness_{k}" for k in SHARPNESS_KEYS if any(k in r.sharpness for r in records)]
    groups = sorted({r.group for r in records})
    methods = method_order(records, baseline)
    for setting, model in groups:
        in_group = [r for r in records if r.group == (setting, model)]
        base = {r.seed: r for r in in_group if r.method == baseline}
        for method in methods:
            runs = [r for r in in_group if r.method == method]
            if not runs:
                continue
            for metric in metrics:
                value = _getter(metric)
                m, s = mean_std([value(r) for r in runs])
                row: dict[str, Any] = {"setting": setting, "model": model, "method": method, "metric": metric,
                                       "n": sum(1 for r in runs if value(r) is not None), "mean": m, "std": s}
                if method != baseline and base:
                    diffs = [value(r) - value(base[r.seed]) for r in runs
                             if r.seed in base and value(r) is not None and value(base[r.seed]) is not None]
                    res = paired_test(diffs)
                    low, high = mean_interval(diffs)
                    row |= {"baseline_mean": mean_std([value(b) for b in base.values()])[0], "diff_mean": res.mean,
                            "diff_std": res.std, "diff_ci_low": low, "diff_ci_high": high, "n_pairs": res.n,
                            "p_value": res.p_value, "test": res.test}
                passes = mean_std([r.passes for r in runs])[0]
                base_passes = mean_std([b.passes for b in base.values()])[0]
                row |= {"passes_per_step": mean_std([r.passes_per_step for r in runs])[0],
                        "compute": passes / base_passes if base_passes else math.nan,
                        "seconds_mean": mean_std([r.seconds for r in runs])[0]}
                rows.append(row)
    return adjust_primary(rows)


def adjust_primary(rows: list[dict[str, Any]], key: str = "p_value") -> list[dict[str, Any]]:
    """Holm's correction over the family of the primary metric's tests in each setting (every model x
    method against the baseline): ``<key>_holm``. Other metrics' p-values stay nominal (descriptive)."""
    for setting in {r["setting"] for r in rows}:
        family = [r for r in rows if r["setting"] == setting and r["metric"] == PRIMARY and key in r]
        for r, adjusted in zip(family, holm([r[key] for r in family])):
            r[f"{key}_holm"] = adjusted
    return rows


def _getter(metric: str):
    if metric.startswith("sharpness_"):
        key = metric[len("sharpness_"):]
        return lambda r: r.sharpness.get(key)
    return lambda r: r.test.get(metric)
