"""Metrics against values computed by hand on small fixed predictions."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from sharpreg.metrics import bootstrap_intervals, choose_threshold, compute_metrics, generalization_gap, resample_metrics
from sharpreg.metrics import compute as compute_mod
from sharpreg.metrics import table
from sharpreg.training.diagnostics import summarize_steps

BIN = ["benign", "malignant"]
# malignant probabilities; arg-max predictions [0, 1, 0, 1, 0, 1]: TP 2, FN 1, FP 1, TN 2
P_MAL = np.array([0.1, 0.65, 0.3, 0.85, 0.45, 0.95])
Y_BIN = np.array([0, 0, 0, 1, 1, 1])
PROBS_BIN = np.stack([1 - P_MAL, P_MAL], axis=1)


def test_binary_metrics_by_hand() -> None:
    m = compute_metrics(Y_BIN, PROBS_BIN, BIN, calibration_bins=5)
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["sensitivity"] == m["sensitivity_malignant"] == pytest.approx(2 / 3)
    assert m["specificity"] == m["specificity_malignant"] == pytest.approx(2 / 3)
    assert m["sensitivity_benign"] == pytest.approx(2 / 3)
    assert m["balanced_accuracy"] == pytest.approx(2 / 3)
    assert m["f1_macro"] == pytest.approx(2 / 3)  # each class: 2 TP / (2 TP + 1 FP + 1 FN)
    assert m["auroc"] == pytest.approx(8 / 9)  # 8 of the 9 (malignant, benign) pairs ranked right
    # confidences .9 .65 .7 .85 .55 .95, correct 1 0 1 1 0 1; bins of 0.2:
    # (0.4, 0.6]: |0 - .55| * 1/6; (0.6, 0.8]: |.5 - .675| * 2/6; (0.8, 1]: |1 - .9| * 3/6
    assert m["ece"] == pytest.approx(0.55 / 6 + 0.175 * 2 / 6 + 0.1 * 3 / 6, abs=1e-6)
    keys = list(m)
    assert keys.index("sensitivity_malignant") < keys.index("sensitivity_benign")  # the positive class first


def test_multiclass_metrics_by_hand() -> None:
    probs = np.array([[.7, .2, .1], [.2, .6, .2], [.1, .3, .6], [.5, .4, .1], [.3, .3, .4], [.2, .1, .7]])
    labels = np.array([0, 1, 2, 0, 1, 2])
    m = compute_metrics(labels, probs, ["a", "b", "c"], positive_class="malignant")
    # one-vs-rest AUROC: a 1.0; b (4 + 2.5) / 8 (one tie counts half); c 1.0
    assert m["auroc"] == pytest.approx((1 + 6.5 / 8 + 1) / 3)
    assert m["accuracy"] == pytest.approx(5 / 6)  # case 5 (b) predicted c
    assert m["balanced_accuracy"] == pytest.approx((1 + 0.5 + 1) / 3)
    assert m["sensitivity_b"] == pytest.approx(0.5)
    # no "malignant": the last class is the positive one; c has 1 false positive among 4 negatives
    assert m["sensitivity"] == pytest.approx(1.0) and m["specificity"] == pytest.approx(0.75)


def test_auroc_is_nan_with_one_class_present() -> None:
    m = compute_metrics(np.array([1, 1, 1]), np.array([[.2, .8], [.6, .4], [.3, .7]]), BIN)
    assert math.isnan(m["auroc"]) and math.isnan(m["specificity"])
    assert m["sensitivity"] == pytest.approx(2 / 3)


def test_bootstrap_matches_an_independent_resampling() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 40)
    p = np.clip(y * 0.3 + rng.uniform(0, 0.7, 40), 0, 1)
    probs = np.stack([1 - p, p], axis=1)
    ci = bootstrap_intervals(y, probs, BIN, resamples=100, confidence=0.9, seed=7)
    draw = np.random.default_rng(7)
    acc = []
    for _ in range(100):
        idx = draw.integers(0, 40, 40)
        acc.append(np.mean((probs[idx].argmax(1)) == y[idx]))
    assert ci["accuracy"] == pytest.approx(list(np.quantile(acc, [0.05, 0.95])))
    point = compute_metrics(y, probs, BIN)
    for k in ("accuracy", "auroc", "balanced_accuracy"):
        assert ci[k][0] <= point[k] <= ci[k][1]
    assert ci == bootstrap_intervals(y, probs, BIN, resamples=100, confidence=0.9, seed=7)  # seeded
    assert bootstrap_intervals(y, probs, BIN, resamples=0) == {}


def test_generalization_gap_and_step_summaries() -> None:
    gap = generalization_gap({"accuracy": 0.9, "auroc": 0.95, "loss": 0.2, "ece": float("nan")},
                             {"accuracy": 0.7, "auroc": 0.8, "loss": 0.5, "ece": 0.1})
    assert gap == pytest.approx({"accuracy": 0.2, "auroc": 0.15, "loss": -0.3})
    s = summarize_steps({"sharpness": [0.1, 0.3, float("nan")], "rho": [0.05, 0.05]})
    assert s == pytest.approx({"sharpness": 0.2, "sharpness_std": 0.1, "sharpness_max": 0.3, "rho": 0.05})


@pytest.mark.parametrize("k", [2, 3])
def test_vectorized_resamples_equal_compute_metrics(k: int) -> None:
    """The bootstrap scores resamples in one vectorized pass; each must equal compute_metrics on it."""
    rng = np.random.default_rng(k)
    n = 30
    names = ["benign", "malignant", "normal"][:k]
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)) + 1.5 * np.eye(k)[y]
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    probs[:12] = np.round(probs[:12], 1)  # tied scores (AUROC ties count half) and bin edges
    probs[:12] /= probs[:12].sum(axis=1, keepdims=True)
    idx = np.stack([rng.integers(0, n, n) for _ in range(40)] + [np.where(y == 0)[0][[0] * n]])  # one all-class-0 draw
    fast = resample_metrics(y, probs, idx, names, calibration_bins=10, threshold=0.4)
    assert ("sensitivity_at_threshold" in fast) == (k == 2)  # a binary-only metric
    for b in range(len(idx)):
        ref = compute_metrics(y[idx[b]], probs[idx[b]], names, calibration_bins=10, threshold=0.4)
        assert list(ref) == list(fast)
        for key, value in ref.items():
            assert fast[key][b] == pytest.approx(value, abs=1e-6, nan_ok=True), (b, key)


def test_a_metric_without_a_vectorized_form_is_looped(monkeypatch: pytest.MonkeyPatch) -> None:
    """An entry with ``batched = None`` (a new metric's first form) still gets bootstrap values, equal to
    its plain definition per resample; a deliberately wrong vectorized form is caught by the same check."""
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 25)
    p = np.clip(y * 0.3 + rng.uniform(0, 0.7, 25), 0, 1)
    probs = np.stack([1 - p, p], axis=1)
    idx = np.stack([rng.integers(0, 25, 25) for _ in range(12)])

    def per_resample(name: str) -> list[float]:
        return [compute_metrics(y[i], probs[i], BIN)[name] for i in idx]

    looped = tuple(replace(m, batched=None) if m.name == "auroc" else m for m in table.METRICS)
    monkeypatch.setattr(compute_mod, "METRICS", looped)
    assert resample_metrics(y, probs, idx, BIN)["auroc"] == pytest.approx(per_resample("auroc"), nan_ok=True)
    wrong = tuple(replace(m, batched=lambda r: 1 - table.METRICS[0].batched(r)) if m.name == "auroc" else m
                  for m in table.METRICS)
    monkeypatch.setattr(compute_mod, "METRICS", wrong)
    assert resample_metrics(y, probs, idx, BIN)["auroc"] != pytest.approx(per_resample("auroc"), nan_ok=True)


def test_the_table_answers_direction_gap_monitor_and_per_class_names() -> None:
    assert table.lower_is_better("loss") and table.lower_is_better("ece") and not table.lower_is_better("auroc")
    assert table.metric_of("sensitivity_normal_or_benign").name == "sensitivity"
    assert table.metric_of("accuracy_benign") is None and table.metric_of("nonsense") is None
    assert set(table.gap_names()) >= {"loss", "accuracy", "auroc"}
    assert table.ordered(["loss", "custom", "auroc"]) == ["auroc", "loss", "custom"]
    from pathlib import Path

    from sharpreg.errors import RecipeError
    from sharpreg.recipe import load_recipe

    quickstart = Path(__file__).resolve().parents[2] / "recipes" / "quickstart.toml"
    assert load_recipe(quickstart, ["train.monitor=ece"]).train.monitor == "ece"
    with pytest.raises(RecipeError, match="unknown metric 'aucroc'; choose one of: auroc"):
        load_recipe(quickstart, ["train.monitor=aucroc"])


def test_brier_and_the_metrics_at_a_threshold_by_hand() -> None:
    m = compute_metrics(Y_BIN, PROBS_BIN, BIN)
    assert m["brier"] == pytest.approx(np.mean((P_MAL - Y_BIN) ** 2))
    assert "sensitivity_at_threshold" not in m  # no threshold chosen: not reported
    at = compute_metrics(Y_BIN, PROBS_BIN, BIN, threshold=0.2)
    # called malignant at p >= 0.2: all but the first case -> TP 3, FN 0; TN 1 of 3 benign
    assert at["sensitivity_at_threshold"] == pytest.approx(1.0)
    assert at["specificity_at_threshold"] == pytest.approx(1 / 3)
    at_half = compute_metrics(Y_BIN, PROBS_BIN, BIN, threshold=0.5)  # 0.5 is the arg-max decision for 2 classes
    assert at_half["sensitivity_at_threshold"] == at_half["sensitivity"]
    assert at_half["specificity_at_threshold"] == at_half["specificity"]
    probs3 = np.array([[.7, .2, .1], [.2, .6, .2], [.1, .3, .6]])
    assert compute_metrics(np.array([0, 1, 2]), probs3, ["a", "b", "c"])["brier"] == pytest.approx(
        np.mean(((probs3 - np.eye(3)) ** 2).sum(axis=1)))


def test_threshold_rules_by_hand_and_against_a_brute_force_search() -> None:
    # validation scores .95(+) .85(+) .65(-) .45(+) .30(-) .10(-): J = tpr - fpr is 2/3 at .85 and at .45
    youden = choose_threshold(Y_BIN == 1, P_MAL)
    assert (youden.value, youden.val_sensitivity, youden.val_specificity) == (0.85, pytest.approx(2 / 3), 1.0)
    target = choose_threshold(Y_BIN == 1, P_MAL, "sensitivity", target_sensitivity=0.9)
    assert (target.value, target.val_sensitivity, target.val_specificity) == (0.45, 1.0, pytest.approx(2 / 3))
    assert target.target_sensitivity == 0.9 and youden.target_sensitivity is None
    assert choose_threshold(np.ones(4, bool), np.linspace(0, 1, 4)) is None  # one class only
    rng = np.random.default_rng(3)
    for _ in range(20):
        y = rng.integers(0, 2, 40).astype(bool)
        y[:2] = [True, False]
        s = np.round(np.clip(0.3 * y + rng.uniform(0, 0.7, 40), 0, 1), 2)  # ties included
        ts = sorted(set(s), reverse=True)
        j = [((s >= t) & y).sum() / y.sum() - ((s >= t) & ~y).sum() / (~y).sum() for t in ts]
        assert choose_threshold(y, s).value == next(t for t, v in zip(ts, j) if v >= max(j) - 1e-9)
        reach = [t for t in sorted(set(s), reverse=True) if ((s >= t) & y).sum() / y.sum() >= 0.8]
        assert choose_threshold(y, s, "sensitivity", target_sensitivity=0.8).value == reach[0]


def test_no_metric_at_a_threshold_can_be_monitored() -> None:
    assert "sensitivity_at_threshold" not in table.monitor_choices() and "brier" in table.monitor_choices()
