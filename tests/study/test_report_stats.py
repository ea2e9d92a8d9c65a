"""The report's statistics on a hand-made k-fold sweep with per-image predictions: pooled out-of-fold
predictions, DeLong's per-case test, Holm over methods x models, the compute column, the reliability
diagram; each checked against an independent computation."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from statsmodels.stats.multitest import multipletests

from sharpreg.runs.predictions import Predictions, write_predictions
from sharpreg.study.aggregate import aggregate, collect
from sharpreg.study.pooled import per_case_tests, pool
from sharpreg.study.report import write_report
from sharpreg.study.stats import delong_paired

N, FOLDS, SEEDS = 60, 2, 2
CLASSES = ["benign", "malignant"]


def make_kfold_sweep(root: Path) -> tuple[Path, dict]:
    """2 models x 3 methods x 2 folds x 2 seeds; each run predicts its fold's half of 60 images."""
    rng = np.random.default_rng(0)
    y = (np.arange(N) % 3 == 0).astype(int)  # 20 malignant
    fold_of = np.arange(N) % FOLDS
    truth: dict = {}
    runs = {}
    for model, skill in (("netA", 1.0), ("netB", 0.6)):
        for method, boost in (("none", 0.0), ("sam", 0.5), ("asam", 0.1)):
            for seed in range(SEEDS):
                score = 1 / (1 + np.exp(-((skill + boost) * (2 * y - 1) + rng.normal(size=N))))
                truth[(model, method, seed)] = score
                for fold in range(FOLDS):
                    rid = f"{method}_{model}_fold{fold}_seed{seed}"
                    d = root / "runs" / rid
                    held = fold_of == fold
                    probs = np.stack([1 - score[held], score[held]], axis=1)
                    write_predictions(d / "predictions" / "test.csv",
                                      Predictions([f"img{i}" for i in np.flatnonzero(held)], y[held], probs, 0.0), CLASSES)
                    summary = {"test": {"auroc": roc_auc_score(y[held], score[held]), "loss": 0.5}, "rule": method,
                               "arch": model, "seed": seed, "steps": 10 * (2 if method == "none" and seed == 9 else 1),
                               "passes_per_step": 1.0 if method == "none" else 2.0, "classes": CLASSES,
                               "positive_class": "malignant"}
                    (d / "summary.json").write_text(json.dumps(summary))
                    runs[rid] = {"values": {"sharpness.name": method, "model.arch": model, "data.split.fold": fold,
                                            "train.seed": seed}, "variant": method, "status": "done"}
    (root / "sweep.json").write_text(json.dumps({"name": "kfold", "baseline": "none", "runs": runs,
                                                 "replicates": ["data.split.fold", "train.seed"]}))
    return root, {"y": y, "truth": truth}


def test_pooled_out_of_fold_predictions_cover_every_image_once_per_seed(tmp_path):
    sweep, _ = make_kfold_sweep(tmp_path)
    records, _ = collect(sweep)
    pooled = pool(records)
    assert len(pooled) == 6 and all(len(p.seeds) == SEEDS for p in pooled.values())
    assert all(len(cases) == N for p in pooled.values() for cases in p.seeds.values())
    assert {r.seed for r in records} == {"0,0", "0,1", "1,0", "1,1"}  # fold,seed replicates


def test_per_case_delong_on_pooled_predictions_with_holm_over_methods_and_models(tmp_path):
    sweep, data = make_kfold_sweep(tmp_path)
    records, _ = collect(sweep)
    rows = per_case_tests(records, "none")
    assert [(r["model"], r["method"]) for r in rows] == [("netA", "sam"), ("netA", "asam"), ("netB", "sam"), ("netB", "asam")]
    y, truth = data["y"].astype(bool), data["truth"]
    for r in rows:
        a = np.stack([truth[(r["model"], r["method"], s)] for s in range(SEEDS)])
        b = np.stack([truth[(r["model"], "none", s)] for s in range(SEEDS)])
        ref = delong_paired(y, a, b)
        assert r["method_auroc"] == pytest.approx(np.mean([roc_auc_score(y, s) for s in a]))
        assert r["diff"] == pytest.approx(ref.diff) and r["p_value"] == pytest.approx(ref.p_value)
        assert r["cases"] == N and r["positives"] == 20 and r["seeds"] == SEEDS
    assert [r["p_holm"] for r in rows] == pytest.approx(multipletests([r["p_value"] for r in rows], method="holm")[1])
    assert rows[0]["diff"] > 0 and rows[0]["p_value"] < rows[1]["p_value"]  # sam's boost is the larger one


def test_holm_covers_the_primary_metric_over_methods_and_models(tmp_path):
    sweep, _ = make_kfold_sweep(tmp_path)
    records, _ = collect(sweep)
    rows = [r for r in aggregate(records, "none") if "p_value" in r]
    primary = [r for r in rows if r["metric"] == "auroc"]
    assert len(primary) == 4 and all(r["n_pairs"] == FOLDS * SEEDS for r in primary)
    assert [r["p_value_holm"] for r in primary] == pytest.approx(multipletests([r["p_value"] for r in primary],
                                                                               method="holm")[1])
    assert all("p_value_holm" not in r for r in rows if r["metric"] != "auroc")  # other metrics stay nominal
    sam = next(r for r in primary if r["method"] == "sam" and r["model"] == "netA")
    assert sam["diff_ci_low"] < sam["diff_mean"] < sam["diff_ci_high"] and sam["compute"] == pytest.approx(2.0)


def test_report_shows_the_per_case_tests_and_draws_reliability(tmp_path):
    sweep, _ = make_kfold_sweep(tmp_path)
    md = write_report(sweep).read_text()
    assert "Per-case test against `none`" in md and "| sam | 2 | 60 (20) |" in md
    assert "primary metric: **auroc**" in md and "2.00×" in md
    rows = list(csv.DictReader((sweep / "per_case.csv").open()))
    assert len(rows) == 4 and float(rows[0]["p_holm"]) >= float(rows[0]["p_value"])
    for model in ("neta", "netb"):
        assert (sweep / "plots" / f"reliability_{model}.png").stat().st_size > 1000
