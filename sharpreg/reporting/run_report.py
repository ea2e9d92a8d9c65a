"""Draw a run folder's plots from its files (``metrics.csv``, ``summary.json``, ``predictions/test.csv``)."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import RunError
from ..evaluation.predictions import read_predictions
from ..runs import RunFolder
from . import plots


def draw_run_plots(run_path: Path) -> list[Path]:
    """``plots/learning_curves.png``, ``confusion_matrix.png``, ``roc.png`` and ``sharpness.png``
    (the last three as far as the files they need exist). Returns the paths written."""
    run = RunFolder(Path(run_path))
    rows = run.read_metrics()
    summary_file = run.path / "summary.json"
    summary = json.loads(summary_file.read_text(encoding="utf-8")) if summary_file.is_file() else {}
    if not rows and not summary:
        raise RunError(f"{run.path} has neither metrics.csv nor summary.json: nothing to plot")
    out = run.path / "plots"
    name = summary.get("recipe", run.path.name)
    written: list[Path] = []
    if rows:
        written.append(plots.learning_curves(rows, out / "learning_curves.png", monitor=summary.get("monitor", "auroc"),
                                             best_epoch=summary.get("best_epoch"), title=name))
        written.append(plots.sharpness(rows, out / "sharpness.png", rule=summary.get("rule", ""),
                                       title=f"{name}: step diagnostics (rule {summary.get('rule', '?')})"))
    pred_file = run.path / "predictions" / "test.csv"
    if pred_file.is_file():
        pred, classes = read_predictions(pred_file)
        if len(pred):
            written.append(plots.confusion_matrix(pred.labels, pred.probs, classes, out / "confusion_matrix.png",
                                                  title=f"{name}, test set"))
            written.append(plots.roc(pred.labels, pred.probs, classes, out / "roc.png",
                                     positive_class=summary.get("positive_class"),
                                     auroc_ci=summary.get("test_ci", {}).get("auroc"),
                                     confidence=summary.get("ci", {}).get("confidence", 0.95), title=name))
    return written
