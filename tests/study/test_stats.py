"""The report's statistics against independent computations: DeLong's covariance from the paper's
formulas (brute force), a published AUROC, a paired bootstrap, the null distribution of its p-value;
Holm by hand; t intervals and Spearman's ρ against scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps
from sklearn.metrics import roc_auc_score

from sharpreg.study.stats import delong_covariance, delong_paired, holm, mean_interval, spearman_interval


def brute_force_delong(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong et al. (1988) as written: psi over every (positive, negative) pair, V10, V01, S10, S01."""
    x, z = scores[:, y], scores[:, ~y]
    m, n = x.shape[1], z.shape[1]
    psi = (x[:, :, None] > z[:, None, :]) + 0.5 * (x[:, :, None] == z[:, None, :])  # k x m x n
    theta = psi.mean(axis=(1, 2))
    v10, v01 = psi.mean(axis=2), psi.mean(axis=1)
    s10 = (v10 - theta[:, None]) @ (v10 - theta[:, None]).T / (m - 1)
    s01 = (v01 - theta[:, None]) @ (v01 - theta[:, None]).T / (n - 1)
    return theta, s10 / m + s01 / n


def correlated_scores(rng: np.random.Generator, n: int, k: int, shift: float = 1.0):
    y = rng.random(n) < 0.35
    shared = rng.normal(size=n) + shift * y
    return y, np.round(shared + 0.7 * rng.normal(size=(k, n)), 1)  # rounding makes ties


def test_delong_covariance_equals_the_papers_formulas():
    rng = np.random.default_rng(0)
    for _ in range(5):
        y, s = correlated_scores(rng, 57, 3)
        aucs, cov = delong_covariance(y, s)
        ref_aucs, ref_cov = brute_force_delong(y, s)
        assert aucs == pytest.approx(ref_aucs, abs=1e-12)
        assert cov == pytest.approx(ref_cov, abs=1e-12)
        assert aucs[0] == pytest.approx(roc_auc_score(y, s[0]))


def test_the_published_auroc_of_hanley_and_mcneil():
    # Hanley & McNeil, Radiology 143:29 (1982), Table 1: ratings 1-5 of 58 normal and 51 abnormal CT images
    neg = np.repeat([1, 2, 3, 4, 5], [33, 6, 6, 11, 2])
    pos = np.repeat([1, 2, 3, 4, 5], [3, 2, 2, 11, 33])
    aucs, cov = delong_covariance(np.r_[np.ones(51, bool), np.zeros(58, bool)], np.r_[pos, neg][None])
    assert aucs[0] == pytest.approx(0.893, abs=5e-4)  # the paper's area, 0.893
    assert math.sqrt(cov[0, 0]) == pytest.approx(0.032, abs=0.003)  # their standard error 0.032 (another estimator)


def test_paired_delong_agrees_with_a_paired_bootstrap_and_an_unpaired_variance_does_not():
    rng = np.random.default_rng(1)
    y, s = correlated_scores(rng, 600, 4, shift=0.8)
    a, b = s[:2], s[2:] + 0.25 * y  # two seeds per arm; arm b slightly better
    res = delong_paired(y, a, b)
    idx = rng.integers(0, len(y), (800, len(y)))  # 800 case resamples, the same cases for every arm and seed

    def mean_auc(arm: np.ndarray) -> np.ndarray:  # Mann-Whitney AUROC per resample, averaged over seeds
        yy = y[idx]
        ranks = [sps.rankdata(r[idx], axis=1) for r in arm]
        m = yy.sum(axis=1)
        return np.mean([((rk * yy).sum(axis=1) - m * (m + 1) / 2) / (m * (len(y) - m)) for rk in ranks], axis=0)

    boot = mean_auc(a) - mean_auc(b)
    assert res.diff == pytest.approx(np.mean([roc_auc_score(y, r) for r in a]) - np.mean([roc_auc_score(y, r) for r in b]))
    assert res.se == pytest.approx(np.std(boot, ddof=1), rel=0.12)
    aucs, cov = delong_covariance(y, s[:1])
    unpaired = math.sqrt(delong_covariance(y, a)[1].mean() + delong_covariance(y, b)[1].mean())  # ignores the pairing
    assert abs(unpaired - np.std(boot, ddof=1)) > 0.3 * np.std(boot, ddof=1)  # the check can tell
    assert res.ci_low < res.diff < res.ci_high and res.p_value < 0.05 and res.seeds == 2
    assert res.n_pos + res.n_neg == 600


def test_delong_p_values_hold_their_level_under_the_null():
    rng = np.random.default_rng(2)
    ps = []
    for _ in range(300):
        y, s = correlated_scores(rng, 150, 2, shift=0.7)
        ps.append(delong_paired(y, s[:1], s[1:]).p_value)
    assert 0.02 <= np.mean(np.array(ps) < 0.05) <= 0.09
    assert sps.kstest(ps, "uniform").pvalue > 0.01


def test_delong_needs_both_classes():
    with pytest.raises(ValueError, match="two positive and two negative"):
        delong_covariance(np.array([1, 0, 0], bool), np.array([[0.1, 0.2, 0.3]]))


def test_holm_by_hand_and_nan_left_out():
    # sorted 0.01, 0.03, 0.04 times 3, 2, 1 -> 0.03, 0.06, 0.04 -> monotone 0.03, 0.06, 0.06
    assert holm([0.01, 0.04, 0.03, math.nan]) == pytest.approx([0.03, 0.06, 0.06, math.nan], nan_ok=True)
    assert holm([0.5]) == [0.5] and holm([math.nan]) == pytest.approx([math.nan], nan_ok=True)


def test_t_interval_of_a_mean_difference_by_hand():
    d = [0.05, 0.02, 0.07, -0.01, 0.03]
    half = sps.t.ppf(0.975, 4) * np.std(d, ddof=1) / math.sqrt(5)
    assert mean_interval(d) == pytest.approx((np.mean(d) - half, np.mean(d) + half))
    assert all(math.isnan(v) for v in mean_interval([0.1])) and all(math.isnan(v) for v in mean_interval([0.1, 0.1]))


def test_spearman_with_a_bootstrap_interval():
    rng = np.random.default_rng(3)
    x = rng.normal(size=40)
    y = x + rng.normal(size=40)
    c = spearman_interval(x, y)
    assert c.rho == pytest.approx(sps.spearmanr(x, y).statistic) and c.n == 40
    assert c.ci_low < c.rho < c.ci_high and c.ci_high - c.ci_low < 0.6
    few = spearman_interval([1, 2, 3, 4, 5, 6], [2, 1, 4, 3, 6, 5])
    assert few.rho == pytest.approx(29 / 35)  # 1 - 6 * 6 / (6 * 35)
    assert few.ci_high - few.ci_low > c.ci_high - c.ci_low  # six points: a wide interval, no p-value
    assert math.isnan(spearman_interval(x[:4], y[:4]).ci_low)
