"""Sweep plots: a metric per method per model with every seed shown; sharpness against test metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..metrics import table
from .aggregate import SHARPNESS_KEYS, SHARPNESS_LABELS, RunRecord, mean_std, method_order


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _panels(records: list[RunRecord]) -> list[tuple[str, str]]:
    return sorted({r.group for r in records})


def draw_metric_plots(records: list[RunRecord], folder: Path, baseline: str = "none",
                      metrics: list[str] | None = None) -> list[str]:
    """``folder/<metric>.png`` per headline metric: one panel per model, methods on x, seeds as points,
    mean ± std as a bar; the baseline's mean as a dashed line. Returns the files written."""
    plt = _pyplot()
    folder.mkdir(parents=True, exist_ok=True)
    panels = _panels(records)
    methods = method_order(records, baseline)
    written = []
    rng = np.random.default_rng(0)
    for metric in metrics or table.names():
        if not any(metric in r.test for r in records):
            continue
        fig, axes = plt.subplots(1, len(panels), figsize=(max(4.0, 0.9 * len(methods) + 1.5) * len(panels), 3.8),
                                 squeeze=False, sharey=True)
        for ax, (setting, model) in zip(axes[0], panels):
            present = [m for m in methods if any(r.method == m and r.group == (setting, model) for r in records)]
            for i, m in enumerate(present):
                ys = [r.test[metric] for r in records if r.method == m and r.group == (setting, model) and metric in r.test]
                xs = i + rng.uniform(-0.12, 0.12, len(ys))
                ax.scatter(xs, ys, s=18, alpha=0.7, color=f"C{methods.index(m) % 10}", zorder=3)
                mu, sd = mean_std(ys)
                ax.errorbar(i + 0.25, mu, yerr=0 if np.isnan(sd) else sd, fmt="D", color="black", ms=4, capsize=3, zorder=4)
                if m == baseline:
                    ax.axhline(mu, color="grey", ls="--", lw=0.8, zorder=1)
            ax.set_xticks(range(len(present)), present, rotation=30, ha="right")
            ax.set_title(model + (f"\n{setting}" if setting else ""), fontsize=9)
            ax.grid(axis="y", alpha=0.3)
        axes[0][0].set_ylabel(f"test {metric}")
        fig.suptitle(f"test {metric}: seeds (dots), mean ± std (black); dashed = {baseline} mean", fontsize=9)
        fig.tight_layout()
        path = folder / f"{metric}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(str(path))
    return written


def draw_sharpness_scatter(records: list[RunRecord], folder: Path, metric: str = "auroc") -> list[str]:
    """``folder/sharpness_<metric>.png``: each measured sharpness quantity (λ_max, trace, ‖w‖, adaptive
    sharpness) against the test metric, one panel per quantity, one point per run."""
    runs = [r for r in records if r.sharpness and metric in r.test]
    keys = [k for k in SHARPNESS_KEYS if any(k in r.sharpness for r in runs)]
    if not keys:
        return []
    plt = _pyplot()
    folder.mkdir(parents=True, exist_ok=True)
    methods = method_order(records, "none")
    models = sorted({r.model for r in runs})
    markers = "osD^v<>P*X"
    fig, axes = plt.subplots(1, len(keys), figsize=(3.6 * len(keys), 3.8), squeeze=False)
    for ax, key in zip(axes[0], keys):
        for r in runs:
            if key not in r.sharpness:
                continue
            ax.scatter(r.sharpness[key], r.test[metric], color=f"C{methods.index(r.method) % 10}",
                       marker=markers[models.index(r.model) % len(markers)], s=30, alpha=0.8)
        if all(r.sharpness.get(key, 0) > 0 for r in runs):
            ax.set_xscale("log")
        ax.set_xlabel(SHARPNESS_LABELS[key])
        ax.set_ylabel(f"test {metric}")
        ax.grid(alpha=0.3)
    handles = [plt.Line2D([], [], color=f"C{methods.index(m) % 10}", marker="o", ls="", label=m)
               for m in methods if any(r.method == m for r in runs)]
    handles += [plt.Line2D([], [], color="black", marker=markers[i % len(markers)], ls="", label=m)
                for i, m in enumerate(models)]
    axes[0][-1].legend(handles=handles, fontsize=7, loc="best")
    fig.suptitle(f"sharpness of the minima found vs test {metric} (one point per run)", fontsize=9)
    fig.tight_layout()
    path = folder / f"sharpness_{metric}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [str(path)]


def draw_reliability(records: list[RunRecord], folder: Path, baseline: str = "none") -> list[str]:
    """``folder/reliability_<model>[_<setting>].png``: per model (and setting) a reliability diagram of every
    method's pooled out-of-fold test predictions (binary tasks)."""
    from ..reporting.plots import reliability
    from .grid import slug
    from .pooled import reliability_curves

    written = []
    for (setting, model), curves in reliability_curves(records, baseline).items():
        name = "reliability_" + slug(model) + (f"_{slug(setting)}" if setting else "")
        positive = next((r.positive_class for r in records if r.model == model and r.positive_class), None)
        written.append(str(reliability(curves, folder / f"{name}.png", title=f"{model}{' · ' + setting if setting else ''}, "
                                       "pooled out-of-fold test predictions", what=positive or "the positive class")))
    return written
