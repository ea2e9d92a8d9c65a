"""The statistics of a study report, each from a library where one does it:

* **DeLong's test** of paired AUROCs on the same cases (DeLong, DeLong, Clarke-Pearson, Biometrics 44:837,
  1988), computed with midranks (Sun & Xu, IEEE SPL 21:1389, 2014; ``scipy.stats.rankdata``). It is the
  per-case test: the cases, not the seeds, are the random sample. Several seeds per arm enter as one
  contrast, the difference of the seed-mean AUROCs, whose variance ``cᵀSc`` comes from DeLong's
  covariance matrix S of all the AUROCs involved (the paper's test of a contrast Lθ).
* **Holm's step-down correction** over a family of tests (Holm, Scand. J. Statist. 6:65, 1979):
  ``statsmodels.stats.multitest.multipletests(method="holm")``.
* **Intervals** of a mean paired difference: Student's t (``scipy.stats.ttest_1samp``).
* **Spearman's ρ with a bootstrap interval** over runs (``scipy.stats.spearmanr``, ``scipy.stats.bootstrap``),
  for relations read from few points, where a nominal p-value would claim too much.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

CONFIDENCE = 0.95


def delong_covariance(positive: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AUROCs of each row of ``scores`` (k × n, higher = more likely positive) for the cases whose
    ``positive`` flag is set, and DeLong's k × k covariance matrix of those AUROCs (ties count half)."""
    from scipy.stats import rankdata

    y = np.asarray(positive, dtype=bool)
    s = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    m, n = int(y.sum()), int((~y).sum())
    if m < 2 or n < 2:
        raise ValueError("DeLong's test needs at least two positive and two negative cases")
    x, z = s[:, y], s[:, ~y]
    tz = rankdata(s, axis=1)  # midranks among all cases
    tx, ty = rankdata(x, axis=1), rankdata(z, axis=1)  # midranks within each class
    aucs = (tz[:, y].sum(axis=1) - m * (m + 1) / 2) / (m * n)
    v10 = (tz[:, y] - tx) / n  # structural components: per positive, the share of negatives ranked below
    v01 = 1.0 - (tz[:, ~y] - ty) / m  # per negative, the share of positives ranked above
    cov = np.atleast_2d(np.cov(v10)) / m + np.atleast_2d(np.cov(v01)) / n
    return aucs, cov


@dataclass(frozen=True)
class DeLongResult:
    """AUROC(a) − AUROC(b) on paired cases (each the mean over its seeds), with DeLong's standard error,
    a normal interval and the two-sided p-value of z = diff / se."""

    auc_a: float
    auc_b: float
    diff: float
    se: float
    z: float
    p_value: float
    ci_low: float
    ci_high: float
    n_pos: int
    n_neg: int
    seeds: int


def delong_paired(positive: np.ndarray, a: np.ndarray, b: np.ndarray, confidence: float = CONFIDENCE) -> DeLongResult:
    """DeLong's test of mean AUROC(a) = mean AUROC(b), ``a`` and ``b`` each S × n scores of the same n
    cases (S seeds of each arm; the seeds of one arm are averaged, not the scores)."""
    from scipy.stats import norm

    a, b = np.atleast_2d(a), np.atleast_2d(b)
    aucs, cov = delong_covariance(positive, np.vstack([a, b]))
    c = np.concatenate([np.full(len(a), 1 / len(a)), np.full(len(b), -1 / len(b))])
    diff, var = float(c @ aucs), float(c @ cov @ c)
    se = math.sqrt(max(var, 0.0))
    z = diff / se if se > 0 else (0.0 if diff == 0 else math.copysign(math.inf, diff))
    half = float(norm.ppf(0.5 + confidence / 2)) * se
    y = np.asarray(positive, dtype=bool)
    return DeLongResult(float(aucs[: len(a)].mean()), float(aucs[len(a):].mean()), diff, se, z,
                        float(2 * norm.sf(abs(z))), diff - half, diff + half, int(y.sum()), int((~y).sum()), len(a))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values of a family (statsmodels); NaN entries stay NaN and are not counted."""
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = multipletests(p[ok], method="holm")[1]
    return out.tolist()


def mean_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Student's t interval of the mean of ``values`` (NaN with fewer than two, or no spread)."""
    from scipy.stats import ttest_1samp

    x = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=np.float64)
    if x.size < 2 or np.ptp(x) == 0:
        return math.nan, math.nan
    ci = ttest_1samp(x, 0.0).confidence_interval(confidence)
    return float(ci.low), float(ci.high)


@dataclass(frozen=True)
class Correlation:
    rho: float
    ci_low: float
    ci_high: float
    n: int


def spearman_interval(x: Sequence[float], y: Sequence[float], *, resamples: int = 2000, seed: int = 0,
                      confidence: float = CONFIDENCE) -> Correlation:
    """Spearman's ρ of paired values with a percentile bootstrap interval over the pairs (resamples in
    which ρ is undefined, e.g. all x equal, are left out; NaN bounds with fewer than 5 pairs, or when
    more than half the resamples are undefined)."""
    from scipy.stats import bootstrap, rankdata, spearmanr

    def rho_of(u: np.ndarray, v: np.ndarray, axis: int = -1) -> np.ndarray:
        """Spearman's ρ along ``axis`` (Pearson's r of the midranks), for many resamples at once."""
        ru, rv = rankdata(u, axis=axis), rankdata(v, axis=axis)
        ru = ru - ru.mean(axis=axis, keepdims=True)
        rv = rv - rv.mean(axis=axis, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            return (ru * rv).sum(axis=axis) / np.sqrt((ru**2).sum(axis=axis) * (rv**2).sum(axis=axis))

    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return Correlation(math.nan, math.nan, math.nan, len(a))
    rho = float(spearmanr(a, b).statistic)
    if len(a) < 5:
        return Correlation(rho, math.nan, math.nan, len(a))
    with warnings.catch_warnings():  # resamples with tied or constant values give NaN and a warning
        warnings.simplefilter("ignore")
        res = bootstrap((a, b), rho_of, paired=True, vectorized=True,
                        n_resamples=resamples, confidence_level=confidence, method="percentile",
                        random_state=np.random.default_rng(seed))
    dist = np.asarray(res.bootstrap_distribution)
    dist = dist[np.isfinite(dist)]
    if dist.size < resamples / 2:
        return Correlation(rho, math.nan, math.nan, len(a))
    low, high = np.quantile(dist, [(1 - confidence) / 2, (1 + confidence) / 2])
    return Correlation(rho, float(low), float(high), len(a))
