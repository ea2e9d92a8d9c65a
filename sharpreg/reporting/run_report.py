"""Draw a run's plots from its files (``metrics.csv``, ``summary.json``, predictions), and those of an
evaluation on another data set."""

from __future__ import annotations

from pathlib import Path

from ..errors import RunError
from ..runs import EvaluationFolder, Predictions, RunFolder, Summary
from . import plots


def draw_run_plots(run: RunFolder) -> list[Path]:
    """``plots/learning_curves.png``, ``sharpness.png``, ``confusion_matrix.png``, ``roc.png`` and
    ``reliability.png`` (as far as the files they need exist). Returns the paths written."""
    rows = run.read_metrics()
    summary = run.read_summary(missing_ok=True)
    if not rows and summary is None:
        raise RunError(f"{run.path} has neither {run.METRICS} nor {run.SUMMARY}: nothing to plot")
    name = summary.recipe if summary is not None else run.path.name
    monitor = summary.monitor if summary is not None else "auroc"
    rule = summary.rule if summary is not None else ""
    written: list[Path] = []
    if rows:
        written.append(plots.learning_curves(rows, run.plot("learning_curves"), monitor=monitor,
                                             best_epoch=summary.best_epoch if summary else None, title=name))
        written.append(plots.sharpness(rows, run.plot("sharpness"), rule=rule,
                                       title=f"{name}: step diagnostics (rule {rule or '?'})"))
    found = run.read_predictions()
    if found is not None and len(found[0]):
        pred, classes = found
        written.append(plots.confusion_matrix(pred.labels, pred.probs, classes, run.plot("confusion_matrix"),
                                              title=f"{name}, test set"))
        written.append(plots.roc(pred.labels, pred.probs, classes, run.plot("roc"),
                                 positive_class=summary.positive_class if summary else None,
                                 auroc_ci=summary.test_ci.get("auroc") if summary else None,
                                 confidence=summary.ci.confidence if summary else 0.95, title=name,
                                 threshold=summary.threshold.value if summary and summary.threshold else None))
        written.append(_reliability(pred, classes, run.plot("reliability"), summary, name))
    return written


def _reliability(pred: Predictions, classes: list[str], path: Path, summary: Summary | None, name: str) -> Path:
    """Binary: the positive class's probability; more classes: the top-1 confidence against correctness."""
    if len(classes) == 2:
        positive = summary.positive_class if summary and summary.positive_class in classes else classes[-1]
        c = classes.index(positive)
        return plots.reliability([("test", pred.labels == c, pred.probs[:, c])], path, title=f"{name}, test set",
                                 what=positive)
    correct = pred.probs.argmax(axis=1) == pred.labels
    return plots.reliability([("test", correct, pred.probs.max(axis=1))], path, title=f"{name}, test set",
                             what="a correct top-1 class")


def draw_evaluation_plots(folder: EvaluationFolder) -> list[Path]:
    """``plots/confusion_matrix.png`` and ``plots/roc.png`` of an evaluation on another data set."""
    record = folder.read_record()
    pred, classes = folder.read_predictions()
    title = f"{record.get('recipe', '?')} on {Path(str(record.get('data_file', 'data'))).stem}"
    return [plots.confusion_matrix(pred.labels, pred.probs, classes, folder.plot("confusion_matrix"), title=title),
            plots.roc(pred.labels, pred.probs, classes, folder.plot("roc"), positive_class=record.get("positive_class"),
                      auroc_ci=(record.get("ci") or {}).get("auroc"),
                      confidence=(record.get("ci_method") or {}).get("confidence", 0.95), title=title)]
