"""Classification metrics from scikit-learn and torchmetrics (nothing hand-rolled)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from sklearn import metrics as skm
from torchmetrics.functional.classification import multiclass_calibration_error


def compute_metrics(
    labels: np.ndarray,
    probs: np.ndarray,
    class_names: list[str],
    *,
    positive_class: str | None = "malignant",
    calibration_bins: int = 15,
) -> dict[str, float]:
    """Accuracy, balanced accuracy, macro F1, AUROC (binary or one-vs-rest macro), per-class
    sensitivity/specificity (``positive_class`` also as plain ``sensitivity``/``specificity``) and ECE."""
    labels = np.asarray(labels, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    n_classes = len(class_names)
    pred = probs.argmax(axis=1)
    out: dict[str, float] = {"accuracy": float(skm.accuracy_score(labels, pred))}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out["balanced_accuracy"] = float(skm.balanced_accuracy_score(labels, pred))
    out["f1_macro"] = float(skm.f1_score(labels, pred, average="macro", labels=list(range(n_classes)), zero_division=0))
    out["auroc"] = auroc(labels, probs)
    cm = skm.confusion_matrix(labels, pred, labels=list(range(n_classes)))
    per_class: dict[str, float] = {}
    for c, name in enumerate(class_names):
        tp = cm[c, c]
        fn = cm[c].sum() - tp
        fp = cm[:, c].sum() - tp
        tn = cm.sum() - tp - fn - fp
        per_class[f"sensitivity_{name}"] = float(tp / (tp + fn)) if tp + fn else float("nan")
        per_class[f"specificity_{name}"] = float(tn / (tn + fp)) if tn + fp else float("nan")
    pos = positive_of(class_names, positive_class)
    out["sensitivity"] = per_class[f"sensitivity_{pos}"]
    out["specificity"] = per_class[f"specificity_{pos}"]
    out["ece"] = float(
        multiclass_calibration_error(
            torch.from_numpy(probs).float(), torch.from_numpy(labels), num_classes=n_classes, n_bins=calibration_bins,
            norm="l1", validate_args=False,
        )
    )
    for name in [pos] + [c for c in class_names if c != pos]:  # the positive class first
        out[f"sensitivity_{name}"] = per_class[f"sensitivity_{name}"]
        out[f"specificity_{name}"] = per_class[f"specificity_{name}"]
    return out


def positive_of(class_names: list[str], positive_class: str | None) -> str:
    """The class whose sensitivity/specificity is reported first: ``positive_class`` or the last class."""
    return positive_class if positive_class in class_names else class_names[-1]


#: metrics where a train-minus-test gap is reported
GAP_METRICS = ("loss", "accuracy", "balanced_accuracy", "f1_macro", "auroc", "sensitivity", "specificity", "ece")


def generalization_gap(train: dict[str, float], test: dict[str, float]) -> dict[str, float]:
    """Train minus test, for every metric both have (positive = better on train, except loss/ece)."""
    return {k: float(train[k]) - float(test[k]) for k in GAP_METRICS
            if k in train and k in test and np.isfinite(train[k]) and np.isfinite(test[k])}


def summarize_steps(values: dict[str, list[float]]) -> dict[str, float]:
    """Per-epoch summary of per-step diagnostics: mean of each, plus std and max of the sharpness."""
    out: dict[str, float] = {}
    for k, v in values.items():
        arr = np.asarray(v, dtype=np.float64)
        arr = arr[np.isfinite(arr)]
        if not len(arr):
            continue
        out[k] = float(arr.mean())
        if k in ("sharpness", "grad_norm"):
            out[f"{k}_std"] = float(arr.std())
            out[f"{k}_max"] = float(arr.max())
    return out


def auroc(labels: np.ndarray, probs: np.ndarray) -> float:
    """Binary AUROC of the last class, or macro one-vs-rest; NaN when a class is absent."""
    present = np.unique(labels)
    if len(present) < 2:
        return float("nan")
    if probs.shape[1] == 2:
        return float(skm.roc_auc_score(labels, probs[:, 1]))
    if len(present) < probs.shape[1]:
        return float("nan")
    return float(skm.roc_auc_score(labels, probs, multi_class="ovr", average="macro"))


def confusion(labels: np.ndarray, probs: np.ndarray, n_classes: int) -> list[list[int]]:
    return skm.confusion_matrix(labels, np.asarray(probs).argmax(axis=1), labels=list(range(n_classes))).tolist()


def as_jsonable(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in metrics.items()}
