"""Aggregation and paired tests on hand-made summaries (numbers checked by hand and against scipy)."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import t as t_dist
from scipy.stats import wilcoxon

from sharpreg.errors import RunError
from sharpreg.study.aggregate import aggregate, collect, mean_std, paired_test, sign_flip_pvalue
from sharpreg.study.report import write_report

# auroc per seed: baseline 0.70 0.80 0.90 (mean 0.8, std 0.1); sam 0.75 0.82 0.97 -> diffs 0.05 0.02 0.07
AUROC = {"none": [0.70, 0.80, 0.90], "sam": [0.75, 0.82, 0.97]}


def make_sweep(root: Path, auroc: dict[str, list[float]] = AUROC, arch: str = "netA", manifest: bool = True,
               sharpness: dict[str, float] | None = None) -> Path:
    runs = {}
    for method, values in auroc.items():
        for seed, a in enumerate(values):
            rid = f"{method}_{arch}_seed{seed}"
            d = root / "runs" / rid
            d.mkdir(parents=True)
            summary = {"test": {"auroc": a, "accuracy": 0.5 + seed / 10, "loss": 1.0 - a}, "rule": method, "arch": arch,
                       "seed": seed, "seconds": 10.0 * (2 if method != "none" else 1),
                       "passes_per_step": 1.0 if method == "none" else 2.0, "epochs_run": 3,
                       "test_ci": {"auroc": [0.0, 1.0]}}
            (d / "summary.json").write_text(json.dumps(summary))
            if sharpness:
                (d / "sharpness.json").write_text(json.dumps({"lambda_max": sharpness[method] + seed, "trace": 10.0}))
            runs[rid] = {"values": {"sharpness.name": method, "model.arch": arch, "train.seed": seed}, "status": "done"}
    if manifest:
        (root / "sweep.json").write_text(json.dumps({"name": "hand", "baseline": "none", "replicates": ["train.seed"],
                                                     "runs": runs, "wall_seconds": 3725}))
    return root


def test_mean_std_is_the_sample_std():
    assert mean_std([0.7, 0.8, 0.9]) == pytest.approx((0.8, 0.1))
    m, s = mean_std([0.5])
    assert m == 0.5 and math.isnan(s)


def test_sign_flip_pvalue_by_hand():
    # sums over the 8 sign patterns of (0.05, 0.02, 0.07): ±0.14 reach |0.14|, so p = 2/8
    assert sign_flip_pvalue([0.05, 0.02, 0.07]) == pytest.approx(0.25)
    assert sign_flip_pvalue([1.0, 1.0, 1.0, 1.0]) == pytest.approx(2 / 16)
    assert sign_flip_pvalue([1.0, -1.0]) == pytest.approx(1.0)
    assert sign_flip_pvalue([0.0, 0.0]) == 1.0
    # (3, 1, -1): |sum| = 3; patterns reaching >= 3: (3,1,-1)=3, (3,-1,1)... sums: 3,5,1,3,-3,-1,-5,-3 -> 6 of 8
    assert sign_flip_pvalue([3.0, 1.0, -1.0]) == pytest.approx(6 / 8)


def test_paired_test_uses_wilcoxon_from_six_pairs_and_matches_scipy():
    d = [0.05, 0.02, 0.07, -0.01, 0.03, 0.04]
    res = paired_test(d)
    assert res.test == "wilcoxon" and res.n == 6
    assert res.p_value == pytest.approx(wilcoxon(d).pvalue)
    assert paired_test([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]).p_value == pytest.approx(2 / 64)  # exact: all positive
    small = paired_test([0.05, 0.02, 0.07])
    assert small.test == "sign-flip" and small.p_value == pytest.approx(0.25)
    assert small.mean == pytest.approx(0.14 / 3)
    assert small.std == pytest.approx(float(np.std([0.05, 0.02, 0.07], ddof=1)))


def test_aggregate_groups_by_method_and_model_and_pairs_by_seed(tmp_path):
    records, manifest = collect(make_sweep(tmp_path))
    rows = aggregate(records, "none")
    by = {(r["model"], r["method"], r["metric"]): r for r in rows}
    base, sam = by[("netA", "none", "auroc")], by[("netA", "sam", "auroc")]
    assert (base["n"], base["mean"], base["std"]) == (3, pytest.approx(0.8), pytest.approx(0.1))
    assert "diff_mean" not in base
    assert sam["mean"] == pytest.approx((0.75 + 0.82 + 0.97) / 3)
    assert sam["diff_mean"] == pytest.approx(0.14 / 3) and sam["n_pairs"] == 3
    assert sam["p_value"] == pytest.approx(0.25) and sam["test"] == "sign-flip"
    assert sam["passes_per_step"] == 2.0 and sam["seconds_mean"] == 20.0
    assert by[("netA", "sam", "accuracy")]["diff_mean"] == pytest.approx(0.0)


def test_pairs_only_matching_seeds(tmp_path):
    records, _ = collect(make_sweep(tmp_path, {"none": [0.7, 0.8], "sam": [0.9, 0.9, 0.9]}))
    sam = next(r for r in aggregate(records) if r["method"] == "sam" and r["metric"] == "auroc")
    assert sam["n_pairs"] == 2 and sam["diff_mean"] == pytest.approx((0.2 + 0.1) / 2)


def test_report_files(tmp_path):
    sweep = make_sweep(tmp_path, sharpness={"none": 5.0, "sam": 2.0})
    md = write_report(sweep).read_text()
    assert "| none | 3 | 0.800 ± 0.100 |" in md
    # the primary metric: mean paired difference [Student-t 95 % CI] (p, Holm p); three pairs 0.05 0.02 0.07
    half = t_dist.ppf(0.975, 2) * np.std([0.05, 0.02, 0.07], ddof=1) / np.sqrt(3)
    assert f"**+0.047** [{0.14 / 3 - half:+.3f}, {0.14 / 3 + half:+.3f}] (p 0.250, Holm 0.250)" in md
    assert "p-value" not in md.split("Relation to test")[1].split("##")[0].replace("no p-value", "")
    assert "1 h 02 min" in md  # wall time 3725 s
    assert "λ_max" in md and "Spearman" in md
    rows = list(csv.DictReader((sweep / "report.csv").open()))
    sam = next(r for r in rows if r["method"] == "sam" and r["metric"] == "auroc")
    assert float(sam["p_value"]) == pytest.approx(0.25) and sam["test"] == "sign-flip"
    lam = next(r for r in rows if r["method"] == "sam" and r["metric"] == "sharpness_lambda_max")
    assert float(lam["mean"]) == pytest.approx(3.0)  # 2 + seeds 0, 1, 2
    runs = list(csv.DictReader((sweep / "runs.csv").open()))
    assert len(runs) == 6 and runs[0]["auroc"]
    for name in ("auroc.png", "loss.png", "sharpness_auroc.png"):
        assert (sweep / "plots" / name).stat().st_size > 1000


def test_report_without_manifest_uses_summary_fields(tmp_path):
    sweep = make_sweep(tmp_path, manifest=False)
    records, _ = collect(sweep)
    assert {r.method for r in records} == {"none", "sam"} and {r.seed for r in records} == {"0", "1", "2"}
    write_report(sweep, plots=False)
    assert (sweep / "report.md").is_file()


def test_settings_other_than_method_model_and_seed_split_the_groups(tmp_path):
    make_sweep(tmp_path)
    manifest = json.loads((tmp_path / "sweep.json").read_text())
    for rid, run in manifest["runs"].items():
        run["values"]["data.split.group_duplicates"] = rid.endswith("seed2")
    (tmp_path / "sweep.json").write_text(json.dumps(manifest))
    records, _ = collect(tmp_path)
    assert {r.setting for r in records} == {"data.split.group_duplicates=true", "data.split.group_duplicates=false"}


def test_report_of_an_empty_folder_is_a_clear_error(tmp_path):
    with pytest.raises(RunError, match="not a sweep folder"):
        write_report(tmp_path)
    (tmp_path / "runs").mkdir()
    with pytest.raises(RunError, match="no finished run yet"):
        write_report(tmp_path)


def test_rule_parameters_label_a_method_only_where_its_runs_differ(tmp_path):
    make_sweep(tmp_path, {"none": [0.7], "sam": [0.8, 0.8], "asam": [0.9]})
    manifest = json.loads((tmp_path / "sweep.json").read_text())
    runs = manifest["runs"]
    runs["sam_netA_seed1"]["values"] |= {"sharpness.rho": 0.1, "train.seed": 0}
    runs["sam_netA_seed0"]["values"]["sharpness.rho"] = 0.05
    runs["asam_netA_seed0"]["values"] |= {"sharpness.rho": 0.5, "sharpness.eta": 0.01}
    (tmp_path / "sweep.json").write_text(json.dumps(manifest))
    records, _ = collect(tmp_path)
    assert {r.method for r in records} == {"none", "sam (rho=0.05)", "sam (rho=0.1)", "asam"}
