"""The built-in metrics' arithmetic, twice: plainly from the libraries (scikit-learn, torchmetrics) for
one set of cases, and vectorized over bootstrap resamples from the same definitions (confusion counts,
rank-based AUROC, torchmetrics' ECE binning). ``tests/metrics`` checks that both agree per resample."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cached_property

import numpy as np


@dataclass(frozen=True)
class _Scored:
    labels: np.ndarray
    probs: np.ndarray
    positive: int
    """index of the class whose sensitivity and specificity are reported under the plain names"""
    calibration_bins: int = 15
    threshold: float | None = None
    """operating threshold on the positive class's probability (chosen on validation): a case is called
    positive when its probability is at least this; None where no threshold was chosen"""

    @property
    def k(self) -> int:
        return self.probs.shape[-1]


@dataclass(frozen=True)
class Cases(_Scored):
    """One set of scored cases: ``labels`` (n,), class probabilities ``probs`` (n, k)."""

    @cached_property
    def pred(self) -> np.ndarray:
        return self.probs.argmax(axis=1)

    @cached_property
    def confusion(self) -> np.ndarray:
        from sklearn import metrics as skm

        return skm.confusion_matrix(self.labels, self.pred, labels=list(range(self.k)))

    @cached_property
    def at_threshold(self) -> np.ndarray:
        """The confusion matrix (negative, positive) of the positive class called at ``threshold``."""
        from sklearn import metrics as skm

        called = self.probs[:, self.positive] >= _threshold(self)
        return skm.confusion_matrix(self.labels == self.positive, called, labels=[False, True])


@dataclass(frozen=True)
class Resamples(_Scored):
    """B resamples of the cases at once: ``labels`` (B, n), ``probs`` (B, n, k)."""

    @cached_property
    def counts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per resample and class: true positives, cases of the class, cases predicted as the class."""
        n_b, n = self.labels.shape
        k = self.k
        flat = (np.arange(n_b)[:, None] * k * k + self.labels * k + self.probs.argmax(axis=2)).ravel()
        cm = np.bincount(flat, minlength=n_b * k * k).reshape(n_b, k, k).astype(np.float64)
        return np.diagonal(cm, axis1=1, axis2=2), cm.sum(axis=2), cm.sum(axis=1)

    @cached_property
    def sensitivity(self) -> np.ndarray:
        tp, true_n, _ = self.counts
        with np.errstate(invalid="ignore", divide="ignore"):
            return tp / true_n

    @cached_property
    def specificity(self) -> np.ndarray:
        tp, true_n, pred_n = self.counts
        fp = pred_n - tp
        tn = self.labels.shape[1] - true_n - fp
        with np.errstate(invalid="ignore", divide="ignore"):
            return tn / (tn + fp)

    @cached_property
    def at_threshold(self) -> tuple[np.ndarray, np.ndarray]:
        """Per resample: sensitivity and specificity of the positive class called at ``threshold``."""
        called = self.probs[:, :, self.positive] >= _threshold(self)
        true = self.labels == self.positive
        with np.errstate(invalid="ignore", divide="ignore"):
            return ((called & true).sum(axis=1) / true.sum(axis=1),
                    (~called & ~true).sum(axis=1) / (~true).sum(axis=1))


def _threshold(scored: _Scored) -> float:
    if scored.threshold is None:
        raise ValueError("a metric at the validation threshold needs a threshold")
    return scored.threshold


# -- plain: one set of cases, from the libraries ------------------------------------------------------
def accuracy(c: Cases) -> float:
    from sklearn import metrics as skm

    return float(skm.accuracy_score(c.labels, c.pred))


def balanced_accuracy(c: Cases) -> float:
    from sklearn import metrics as skm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(skm.balanced_accuracy_score(c.labels, c.pred))


def f1_macro(c: Cases) -> float:
    from sklearn import metrics as skm

    return float(skm.f1_score(c.labels, c.pred, average="macro", labels=list(range(c.k)), zero_division=0))


def auroc(c: Cases) -> float:
    """Binary AUROC of the last class, or macro one-vs-rest; NaN when a class is absent."""
    from sklearn import metrics as skm

    present = np.unique(c.labels)
    if len(present) < 2:
        return float("nan")
    if c.k == 2:
        return float(skm.roc_auc_score(c.labels, c.probs[:, 1]))
    if len(present) < c.k:
        return float("nan")
    return float(skm.roc_auc_score(c.labels, c.probs, multi_class="ovr", average="macro"))


def sensitivity(c: Cases) -> np.ndarray:
    """Per class: true positives over the cases of the class (NaN without any)."""
    cm = c.confusion
    tp = np.diagonal(cm).astype(np.float64)
    fn = cm.sum(axis=1) - tp
    return np.array([tp[i] / (tp[i] + fn[i]) if tp[i] + fn[i] else np.nan for i in range(c.k)])


def specificity(c: Cases) -> np.ndarray:
    """Per class: true negatives over the cases of the other classes (NaN without any)."""
    cm = c.confusion
    tp = np.diagonal(cm).astype(np.float64)
    fn, fp = cm.sum(axis=1) - tp, cm.sum(axis=0) - tp
    tn = cm.sum() - tp - fn - fp
    return np.array([tn[i] / (tn[i] + fp[i]) if tn[i] + fp[i] else np.nan for i in range(c.k)])


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den else float("nan")


def sensitivity_at_threshold(c: Cases) -> float:
    """The positive class's sensitivity when it is called at the validation-chosen threshold."""
    (tn, fp), (fn, tp) = c.at_threshold
    return _ratio(tp, tp + fn)


def specificity_at_threshold(c: Cases) -> float:
    """The positive class's specificity when it is called at the validation-chosen threshold."""
    (tn, fp), (fn, tp) = c.at_threshold
    return _ratio(tn, tn + fp)


def brier(c: Cases) -> float:
    """scikit-learn's Brier score: mean squared error of the positive class's probability (binary), or of
    the probability vector against the one-hot label, summed over classes (more classes)."""
    from sklearn import metrics as skm

    if c.k == 2:
        return float(skm.brier_score_loss(c.labels == c.positive, c.probs[:, c.positive]))
    return float(skm.brier_score_loss(c.labels, c.probs, labels=list(range(c.k))))


def ece(c: Cases) -> float:
    """torchmetrics' L1 calibration error of the top-1 confidence."""
    import torch
    from torchmetrics.functional.classification import multiclass_calibration_error

    return float(multiclass_calibration_error(torch.from_numpy(c.probs).float(), torch.from_numpy(c.labels),
                                              num_classes=c.k, n_bins=c.calibration_bins, norm="l1",
                                              validate_args=False))


# -- vectorized: B resamples at once, for the bootstrap -----------------------------------------------
def accuracy_b(r: Resamples) -> np.ndarray:
    tp, _, _ = r.counts
    return tp.sum(axis=1) / r.labels.shape[1]


def balanced_accuracy_b(r: Resamples) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(r.sensitivity, axis=1)


def f1_macro_b(r: Resamples) -> np.ndarray:
    tp, true_n, pred_n = r.counts
    denom = 2 * tp + (pred_n - tp) + (true_n - tp)
    return np.where(denom > 0, 2 * tp / np.where(denom > 0, denom, 1), 0.0).mean(axis=1)


def _binary_auc(score: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """Mann-Whitney AUC per row (ties count half); NaN where a row has one class only."""
    from scipy.stats import rankdata

    n1 = positive.sum(axis=1)
    n0 = positive.shape[1] - n1
    u = (rankdata(score, axis=1) * positive).sum(axis=1) - n1 * (n1 + 1) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((n1 > 0) & (n0 > 0), u / (n1 * n0), np.nan)


def auroc_b(r: Resamples) -> np.ndarray:
    if r.k == 2:
        return _binary_auc(r.probs[:, :, 1], r.labels == 1)
    per_class = np.stack([_binary_auc(r.probs[:, :, c], r.labels == c) for c in range(r.k)], axis=1)
    return per_class.mean(axis=1)  # NaN when a class is absent, like the plain AUROC


def sensitivity_b(r: Resamples) -> np.ndarray:
    return r.sensitivity


def specificity_b(r: Resamples) -> np.ndarray:
    return r.specificity


def sensitivity_at_threshold_b(r: Resamples) -> np.ndarray:
    return r.at_threshold[0]


def specificity_at_threshold_b(r: Resamples) -> np.ndarray:
    return r.at_threshold[1]


def brier_b(r: Resamples) -> np.ndarray:
    if r.k == 2:
        return ((r.probs[:, :, r.positive] - (r.labels == r.positive)) ** 2).mean(axis=1)
    onehot = np.eye(r.k)[r.labels]
    return ((r.probs - onehot) ** 2).sum(axis=2).mean(axis=1)


def ece_b(r: Resamples) -> np.ndarray:
    """torchmetrics' binning: top-1 confidence (float32), bins [b_i, b_i+1) of linspace(0, 1)."""
    import torch

    p32 = r.probs.astype(np.float32)
    conf = p32.max(axis=2)
    correct = (p32.argmax(axis=2) == r.labels).astype(np.float64)
    edges = torch.linspace(0, 1, r.calibration_bins + 1).numpy()
    which = np.searchsorted(edges, conf, side="right") - 1
    n_b, n = r.labels.shape
    slots = r.calibration_bins + 1
    flat = (np.arange(n_b)[:, None] * slots + which).ravel()
    count = np.bincount(flat, minlength=n_b * slots).reshape(n_b, slots)
    conf_sum = np.bincount(flat, weights=conf.astype(np.float64).ravel(), minlength=n_b * slots).reshape(n_b, slots)
    acc_sum = np.bincount(flat, weights=correct.ravel(), minlength=n_b * slots).reshape(n_b, slots)
    safe = np.maximum(count, 1)
    return (np.abs(acc_sum / safe - conf_sum / safe) * count / n).sum(axis=1)
