"""Pooled out-of-fold predictions and the per-case test.

The folds of one seed test disjoint images that together cover the data set, so a method's test
predictions of one seed, pooled over its folds, score every image once (with k-fold; a hold-out sweep
pools one test set). For each method and the baseline, on the images both scored at every seed they
share, DeLong's test compares the seed-mean AUROCs (``stats.delong_paired``): the images are the random
sample, so this test speaks to the data set's cases where the folds x seeds test speaks to training
noise. Binary tasks only (the positive class's probability is the score).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..runs import RunFolder
from .aggregate import PRIMARY, RunRecord, method_order
from .stats import delong_paired, holm

Key = tuple[str, str, str]
"""(setting, model, method)"""


@dataclass
class Pooled:
    """One arm's pooled test predictions per seed: image id -> (is positive, positive-class probability)."""

    seeds: dict[str, dict[str, tuple[bool, float]]]


def pool(records: list[RunRecord]) -> dict[Key, Pooled]:
    """The pooled out-of-fold predictions of every (setting, model, method), per ``train.seed``."""
    out: dict[Key, Pooled] = {}
    for r in records:
        if r.path is None or len(r.classes) != 2:
            continue
        found = RunFolder(r.path).read_predictions()
        if found is None:
            continue
        pred, classes = found
        c = classes.index(r.positive_class) if r.positive_class in classes else len(classes) - 1
        cases = out.setdefault((r.setting, r.model, r.method), Pooled({})).seeds.setdefault(r.train_seed, {})
        for i, y, p in zip(pred.ids, pred.labels, pred.probs[:, c]):
            cases[i] = (bool(y == c), float(p))
    return out


def _paired_arrays(a: Pooled, b: Pooled) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(positive flags, a's scores S x n, b's scores S x n) on the seeds both have and the images every one
    of those seeds scored; None when nothing is shared or labels disagree."""
    seeds = sorted(set(a.seeds) & set(b.seeds))
    if not seeds:
        return None
    ids = set.intersection(*(set(p.seeds[s]) for p in (a, b) for s in seeds))
    order = sorted(ids)
    if not order:
        return None
    y = np.array([a.seeds[seeds[0]][i][0] for i in order])
    if any(p.seeds[s][i][0] != yi for p in (a, b) for s in seeds for i, yi in zip(order, y)):
        return None
    sa = np.array([[a.seeds[s][i][1] for i in order] for s in seeds])
    sb = np.array([[b.seeds[s][i][1] for i in order] for s in seeds])
    return y, sa, sb


def per_case_tests(records: list[RunRecord], baseline: str) -> list[dict[str, Any]]:
    """DeLong's test of each method against the baseline on pooled out-of-fold predictions (same setting
    and model), with Holm's correction over the methods x models of each setting."""
    pooled = pool(records)
    rows: list[dict[str, Any]] = []
    for (setting, model, method) in sorted(pooled, key=lambda k: (k[0], k[1], method_order(records, baseline).index(k[2]))):
        base = pooled.get((setting, model, baseline))
        if method == baseline or base is None:
            continue
        arrays = _paired_arrays(pooled[(setting, model, method)], base)
        if arrays is None:
            continue
        y, sa, sb = arrays
        if y.sum() < 2 or (~y).sum() < 2:
            continue
        res = delong_paired(y, sa, sb)
        rows.append({"setting": setting, "model": model, "method": method, "metric": PRIMARY, "cases": len(y),
                     "positives": res.n_pos, "seeds": res.seeds, "method_auroc": res.auc_a, "baseline_auroc": res.auc_b,
                     "diff": res.diff, "se": res.se, "ci_low": res.ci_low, "ci_high": res.ci_high, "z": res.z,
                     "p_value": res.p_value})
    by_setting: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_setting[r["setting"]].append(r)
    for family in by_setting.values():
        for r, adjusted in zip(family, holm([r["p_value"] for r in family])):
            r["p_holm"] = adjusted
    return rows


def reliability_curves(records: list[RunRecord], baseline: str) -> dict[tuple[str, str], list[tuple[str, np.ndarray, np.ndarray]]]:
    """Per (setting, model): each method's pooled out-of-fold (outcome, probability) over all its seeds."""
    out: dict[tuple[str, str], list[tuple[str, np.ndarray, np.ndarray]]] = {}
    order = method_order(records, baseline)
    for (setting, model, method), p in sorted(pool(records).items(), key=lambda kv: (kv[0][:2], order.index(kv[0][2]))):
        cases = [c for seed in p.seeds.values() for c in seed.values()]
        if not cases or not math.isfinite(sum(c[1] for c in cases)):
            continue
        out.setdefault((setting, model), []).append((method, np.array([c[0] for c in cases]), np.array([c[1] for c in cases])))
    return out
