"""Matplotlib figures of a run: learning curves, confusion matrix, ROC, sharpness diagnostics, and
the comparison of several runs. Each function writes one PNG and returns its path."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn import metrics as skm  # noqa: E402

from ..metrics.table import label as metric_label, lower_is_better  # noqa: E402

if TYPE_CHECKING:
    from .compare import ComparedRun

TRAIN, VAL, BEST = "#1f77b4", "#d62728", "#2ca02c"
plt.rcParams.update({"font.size": 10, "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True,
                     "grid.alpha": 0.3, "figure.dpi": 110})


def _save(fig: plt.Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, bbox_inches="tight")
    plt.close(fig)
    os.replace(tmp, path)
    return path


def _series(rows: Sequence[dict[str, Any]], key: str) -> tuple[np.ndarray, np.ndarray]:
    xs = [r["epoch"] for r in rows if isinstance(r.get(key), (int, float))]
    ys = [float(r[key]) for r in rows if isinstance(r.get(key), (int, float))]
    return np.asarray(xs), np.asarray(ys, dtype=float)


def _tidy_y(ax: plt.Axes, y: np.ndarray) -> None:
    """No offset notation; a flat series gets a ±10 % window instead of a zoom into rounding noise."""
    ax.ticklabel_format(axis="y", useOffset=False)
    finite = y[np.isfinite(y)] if len(y) else y
    if len(finite):
        lo, hi = float(finite.min()), float(finite.max())
        mid = (lo + hi) / 2
        if hi - lo <= 1e-6 * max(abs(mid), 1e-12):
            pad = 0.1 * abs(mid) if mid else 1.0
            ax.set_ylim(mid - pad, mid + pad)


def learning_curves(rows: Sequence[dict[str, Any]], path: Path, *, monitor: str = "auroc",
                    best_epoch: int | None = None, title: str = "") -> Path:
    """Loss, the monitored metric (train and validation) and the learning rate per epoch."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), gridspec_kw={"width_ratios": [1, 1, 0.7]})
    marker = "o" if len(rows) <= 30 else None
    for ax, metric in zip(axes[:2], ("loss", monitor if monitor != "loss" else "accuracy")):
        for split, color in (("train", TRAIN), ("val", VAL)):
            x, y = _series(rows, f"{split}_{metric}")
            if len(x):
                ax.plot(x, y, color=color, marker=marker, ms=4,
                        label="validation" if split == "val" else "train (running, augmented)")
        if best_epoch is not None:
            ax.axvline(best_epoch, color=BEST, ls="--", lw=1.2, label=f"best epoch ({best_epoch})")
        ax.set_xlabel("epoch")
        ax.set_title(metric_label(metric) + (" (selects the best epoch)" if metric == monitor else ""))
        if not lower_is_better(metric):
            lo = min([0.5] + [float(np.nanmin(_series(rows, f"{s}_{metric}")[1])) for s in ("train", "val")
                              if len(_series(rows, f"{s}_{metric}")[1]) and np.isfinite(_series(rows, f"{s}_{metric}")[1]).any()])
            ax.set_ylim(max(0.0, lo - 0.05), 1.02)
        ax.legend(loc="best", fontsize=8)
    x, y = _series(rows, "lr")
    axes[2].plot(x, y, color="grey", marker=marker, ms=3)
    axes[2].set_title("learning rate (end of epoch)")
    axes[2].set_xlabel("epoch")
    axes[2].ticklabel_format(axis="y", style="sci", scilimits=(-2, 3))
    _tidy_y(axes[2], y)
    for ax in axes:
        ax.xaxis.get_major_locator().set_params(integer=True)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return _save(fig, path)


def confusion_matrix(labels: np.ndarray, probs: np.ndarray, class_names: list[str], path: Path, *,
                     title: str = "test set") -> Path:
    """Counts and row percentages (true class per row): the diagonal reads as per-class sensitivity."""
    k = len(class_names)
    cm = skm.confusion_matrix(labels, np.asarray(probs).argmax(axis=1), labels=list(range(k)))
    rows = cm.sum(axis=1, keepdims=True)
    frac = np.divide(cm, rows, out=np.zeros_like(cm, dtype=float), where=rows > 0)
    size = 1.3 * k + 2.2
    fig, ax = plt.subplots(figsize=(size + 0.8, size))
    im = ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
    for i in range(k):
        for j in range(k):
            ax.text(j, i, f"{cm[i, j]}\n{100 * frac[i, j]:.0f} %", ha="center", va="center", fontsize=11,
                    color="white" if frac[i, j] > 0.6 else "black")
    ax.set_xticks(range(k), class_names, rotation=30 if k > 3 else 0)
    ax.set_yticks(range(k), class_names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.grid(False)
    ax.set_title(f"{title} (n = {int(cm.sum())})")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class")
    fig.tight_layout()
    return _save(fig, path)


def roc(labels: np.ndarray, probs: np.ndarray, class_names: list[str], path: Path, *,
        positive_class: str | None = None, auroc_ci: Sequence[float | None] | None = None,
        confidence: float = 0.95, title: str = "test set", threshold: float | None = None) -> Path:
    """Binary: the ROC of the positive class with its AUROC (and interval), the operating point of the
    arg-max decision and, given, that of the threshold chosen on validation. More classes: one curve per
    class (one-vs-rest)."""
    labels = np.asarray(labels)
    probs = np.asarray(probs)
    fig, ax = plt.subplots(figsize=(5.2, 5))
    ax.plot([0, 1], [0, 1], color="grey", ls=":", lw=1, label="chance")
    k = len(class_names)
    if k == 2:
        pos = class_names.index(positive_class) if positive_class in class_names else 1
        targets = [(pos, class_names[pos])]
    else:
        targets = list(enumerate(class_names))
    pred = probs.argmax(axis=1)
    for c, name in targets:
        y = (labels == c).astype(int)
        if y.min() == y.max():
            ax.plot([], [], label=f"{name}: only one class present, no curve")
            continue
        fpr, tpr, _ = skm.roc_curve(y, probs[:, c])
        auc = skm.roc_auc_score(y, probs[:, c])
        label = f"{name} vs rest  AUROC {auc:.3f}" if k > 2 else f"{name}  AUROC {auc:.3f}"
        if k == 2 and auroc_ci and auroc_ci[0] is not None:
            label += f"\n({int(round(confidence * 100))} % CI {auroc_ci[0]:.3f}–{auroc_ci[1]:.3f})"
        line, = ax.plot(fpr, tpr, lw=2, label=label)
        sens = float(((pred == c) & (y == 1)).sum() / y.sum())
        spec = float(((pred != c) & (y == 0)).sum() / (1 - y).sum())
        ax.plot(1 - spec, sens, "o", color=line.get_color(), ms=8, mec="black",
                label=f"arg-max decision: sens {sens:.2f}, spec {spec:.2f}")
        if k == 2 and threshold is not None:
            called = probs[:, c] >= threshold
            sens_t, spec_t = float((called & (y == 1)).sum() / y.sum()), float((~called & (y == 0)).sum() / (1 - y).sum())
            ax.plot(1 - spec_t, sens_t, "s", color=line.get_color(), ms=8, mec="black", mfc="white",
                    label=f"validation threshold {threshold:.3f}: sens {sens_t:.2f}, spec {spec_t:.2f}")
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_aspect("equal")
    ax.set_xlabel("1 − specificity (false-positive rate)")
    ax.set_ylabel("sensitivity (true-positive rate)")
    ax.set_title(f"ROC, {title} (n = {len(labels)})")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


def reliability(curves: Sequence[tuple[str, np.ndarray, np.ndarray]], path: Path, *, bins: int = 10,
                title: str = "test set", what: str = "the positive class") -> Path:
    """Reliability diagram: for each ``(label, outcome, probability)`` the observed frequency of the outcome
    against the mean predicted probability in ``bins`` equal-width bins (scikit-learn's
    ``calibration_curve``), the Brier score in the legend, and below, how many cases fall in each bin."""
    from sklearn.calibration import calibration_curve

    fig, (ax, hist) = plt.subplots(2, 1, figsize=(5.2, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    ax.plot([0, 1], [0, 1], color="grey", ls=":", lw=1, label="perfect calibration")
    edges = np.linspace(0, 1, bins + 1)
    for i, (name, outcome, prob) in enumerate(curves):
        outcome, prob = np.asarray(outcome, dtype=int), np.asarray(prob, dtype=float)
        if len(outcome) == 0:
            continue
        color = f"C{i % 10}"
        if outcome.min() != outcome.max():
            frac, mean = calibration_curve(outcome, prob, n_bins=bins, strategy="uniform")
            brier = float(np.mean((prob - outcome) ** 2))
            ax.plot(mean, frac, marker="o", ms=4, color=color, label=f"{name}  Brier {brier:.3f} (n = {len(outcome)})")
        hist.hist(prob, bins=edges, histtype="step", color=color, lw=1.2)
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_ylabel(f"observed frequency of {what}")
    ax.set_title(f"reliability, {title}")
    ax.legend(loc="upper left", fontsize=7)
    hist.set_xlabel(f"predicted probability of {what}")
    hist.set_ylabel("cases")
    fig.tight_layout()
    return _save(fig, path)


SHARPNESS_PANELS = (
    ("diag_sharpness", "sharpness  L(w+e) − L(w)"),
    ("diag_grad_norm", "gradient norm ‖g‖"),
    ("diag_perturbation_norm", "perturbation norm ‖e‖"),
    ("diag_cos_g_gp", "cos(g, g at w+e)"),
)


def sharpness(rows: Sequence[dict[str, Any]], path: Path, *, rule: str = "", title: str = "") -> Path:
    """The step engine's diagnostics, mean per epoch (band: ± one std over the epoch's steps)."""
    panels = [(k, t) for k, t in SHARPNESS_PANELS if len(_series(rows, k)[0])]
    if not panels:
        fig, ax = plt.subplots(figsize=(6, 2.5))
        ax.axis("off")
        ax.text(0.5, 0.5, "no step diagnostics recorded", ha="center", va="center")
        return _save(fig, path)
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels) + 0.5, 3.6), squeeze=False)
    for ax, (key, label) in zip(axes[0], panels):
        x, y = _series(rows, key)
        ax.plot(x, y, color="#9467bd", marker="o" if len(x) <= 30 else None, ms=4, label="epoch mean")
        xs, sd = _series(rows, f"{key}_std")
        if len(xs) == len(x) and len(x):
            ax.fill_between(x, y - sd, y + sd, color="#9467bd", alpha=0.2, label="± std over steps")
        xm, mx = _series(rows, f"{key}_max")
        if len(xm):
            ax.plot(xm, mx, color="#9467bd", ls=":", lw=1, label="max over steps")
        _tidy_y(ax, y)
        if key == "diag_cos_g_gp":
            ax.set_ylim(min(0.0, float(np.nanmin(y)) - 0.05), 1.02)
        ax.set_title(label)
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
    handles, names = axes[0][0].get_legend_handles_labels()
    if rule in ("", "none") and len(panels) == 1:
        axes[0][0].text(0.02, 0.02, "rule 'none': one pass per step, no perturbation", transform=axes[0][0].transAxes,
                        fontsize=8, color="grey")
    if title:
        fig.suptitle(title, fontsize=11)
    fig.legend(handles, names, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return _save(fig, path)


def comparison(runs: Sequence[ComparedRun], metrics: Sequence[str], path: Path, *, confidence: float = 0.95) -> Path:
    """One panel per metric, one bar per run, with its bootstrap interval as an error bar."""
    metrics = [m for m in metrics if any(r.summary.test.get(m) is not None for r in runs)] or ["accuracy"]
    ncols = min(3, len(metrics))
    nrows = int(np.ceil(len(metrics) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.3 * ncols + 1.5, (0.42 * len(runs) + 1.3) * nrows),
                             squeeze=False, sharey=True)
    labels = [r.label for r in runs]
    ys = np.arange(len(runs))[::-1]
    colors = plt.get_cmap("tab10")(np.arange(len(runs)) % 10)
    for ax in axes.flat[len(metrics):]:
        ax.axis("off")
    for ax, m in zip(axes.flat, metrics):
        vals = np.array([np.nan if r.summary.test.get(m) is None else r.summary.test[m] for r in runs], dtype=float)
        lo = np.array([(r.summary.test_ci.get(m) or [None, None])[0] for r in runs], dtype=float)
        hi = np.array([(r.summary.test_ci.get(m) or [None, None])[1] for r in runs], dtype=float)
        # a bootstrap interval need not contain the estimate (e.g. ECE is biased upwards): clip at 0
        err = np.vstack([np.where(np.isfinite(lo), np.maximum(vals - lo, 0), 0),
                         np.where(np.isfinite(hi), np.maximum(hi - vals, 0), 0)])
        ax.barh(ys, np.nan_to_num(vals), color=colors, alpha=0.85, height=0.6)
        ax.errorbar(vals, ys, xerr=err, fmt="none", ecolor="black", capsize=3, lw=1)
        top = float(np.nanmax(np.concatenate([vals, hi]))) if np.isfinite(np.concatenate([vals, hi])).any() else 1.0
        right = 1.0 if not lower_is_better(m) else max(1e-3, top * 1.3)
        for y, v, h in zip(ys, vals, hi):
            if np.isfinite(v):
                ax.text((h if np.isfinite(h) else v) + right * 0.02, y, f"{v:.3f}", va="center", ha="left", fontsize=8)
        ax.set_title(metric_label(m) + (" (lower is better)" if lower_is_better(m) else ""))
        ax.set_xlim(0, right * (1.12 if not lower_is_better(m) else 1.0))
        ax.grid(axis="y", visible=False)
    for row in axes:
        row[0].set_yticks(ys, labels)
    fig.suptitle(f"test set; error bars: {int(round(confidence * 100))} % bootstrap intervals", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)
