"""The end of a run: the best model on the test set (with bootstrap intervals), the train − test gap,
predictions, shareable weights, ``summary.json``, plots and the one-screen summary."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from rich.console import Console

from ..data.module import Split
from ..metrics import generalization_gap
from ..recipe import Recipe
from ..reporting import draw_run_plots
from ..reporting.card import model_card
from ..reporting.tables import print_summary
from ..runs import RunFolder, Summary
from ..runs.summary import IntervalMethod, ThresholdRecord, Trend, finite_or_none
from .diagnostics import nanmean
from .parts import TrainingParts
from .state import TrainingState

log = logging.getLogger("sharpreg")


def finish(run: RunFolder, recipe: Recipe, parts: TrainingParts, state: TrainingState, console: Console,
           evaluate: Callable[[Split], dict[str, float]]) -> Summary:
    """Choose the operating threshold on the validation split, score the best epoch's model on the test set
    (unless ``eval.score_test`` is off) and write everything a finished run leaves."""
    t0 = time.perf_counter()
    if state.best_weights is not None:
        parts.model.load_state_dict(state.best_weights)
    summary = Summary(**_identity(run, recipe, parts, state))
    threshold = _validation_threshold(run, parts, summary)
    if recipe.eval.score_test and len(parts.dm.labels("test")):
        ev = parts.evaluator
        pred = ev.predict(parts.dm.dataset("test", train_transforms=False))
        test = ev.score(pred, threshold)
        run.write_predictions(pred, parts.dm.class_names)
        summary.test, summary.test_ci = finite_or_none(test), ev.intervals(pred, threshold)
        train_eval = evaluate("train")
        summary.train_eval = finite_or_none(train_eval)
        summary.generalization_gap = generalization_gap(train_eval, test, ev.extra_metrics)
    run.save_model(parts.model, {
        "recipe": recipe.name, "classes": json.dumps(parts.dm.class_names),
        "in_chans": str(parts.dm.in_chans), "image_size": str(parts.dm.image_size),
        "model": json.dumps(recipe.resolved()["model"]), "best_epoch": str(state.best["epoch"])})
    summary.seconds = round(state.elapsed + time.perf_counter() - t0, 2)
    run.write_summary(summary)
    run.event("finish", seconds=summary.seconds)
    if run.writer:  # the other processes of a multi-process run have computed the same; rank 0 shows it
        _plots(run)
        write_card(run)
        print_summary(console, summary, run.path)
    return summary


def _validation_threshold(run: RunFolder, parts: TrainingParts, summary: Summary) -> float | None:
    """The best model's validation predictions (kept as ``predictions/val.csv``) and the threshold chosen
    on them, recorded in the summary; None without a validation split or for more than two classes."""
    if not len(parts.dm.labels("val")):
        return None
    val = parts.evaluator.predict(parts.dm.dataset("val", train_transforms=False))
    run.write_predictions(val, parts.dm.class_names, "val")
    choice = parts.evaluator.choose_threshold(val)
    if choice is None:
        return None
    summary.threshold = ThresholdRecord(**asdict(choice))
    return choice.value


def _identity(run: RunFolder, recipe: Recipe, parts: TrainingParts, state: TrainingState) -> dict[str, Any]:
    """Everything in the summary but the test scores and the total time."""
    ev, cfg, history, engine = recipe.eval, recipe.train, state.history, parts.engine
    diag_cols = sorted({k for row in history for k in row if k.startswith("diag_")})
    steps = engine.step_count
    return {
        "recipe": recipe.name, "run": str(run.path), "status": "complete", "epochs_run": state.epoch,
        "epochs_planned": cfg.epochs, "stopped_early": state.stopped_early, "best_epoch": state.best["epoch"],
        "monitor": cfg.monitor, "best_val": state.best["value"],
        "ci": IntervalMethod(method="percentile bootstrap over test cases", resamples=ev.bootstrap,
                             confidence=ev.confidence, seed=ev.bootstrap_seed),
        "test_n": len(parts.dm.labels("test")) if recipe.eval.score_test else None,
        "train_final": finite_or_none({k[6:]: v for k, v in history[-1].items() if k.startswith("train_")})
        if history else {},
        "sharpness": {k[5:]: Trend(last=history[-1].get(k), mean=nanmean([r.get(k) for r in history]))
                      for k in diag_cols} if history else {},
        "train_seconds": round(sum(r["seconds"] for r in history), 2), "sessions": state.sessions,
        "steps": steps, "skipped_steps": engine.skipped_steps,
        "passes_per_step": round(state.total_passes / steps, 4) if steps else None,
        "rule": recipe.sharpness.name, "optimizer": recipe.optimizer.name, "model": recipe.model.name,
        "arch": recipe.model.params.architecture(), "dataset": recipe.data.name, "classes": parts.dm.class_names,
        "data_fingerprint": parts.dm.fingerprint,
        "positive_class": ev.positive_class, "seed": cfg.seed, "device": str(parts.device),
    }


def write_card(run: RunFolder) -> None:
    """``MODEL_CARD.md`` from the run folder (a card that cannot be written never loses a finished run)."""
    try:
        run.write_model_card(model_card(run))
    except Exception as exc:  # noqa: BLE001
        log.warning("could not write %s: %s: %s", run.MODEL_CARD, type(exc).__name__, exc)


def _plots(run: RunFolder) -> None:
    try:
        draw_run_plots(run)
    except Exception as exc:  # a plot must never lose a finished run
        log.warning("could not draw the plots: %s: %s (retry with `sharpreg report %s`)", type(exc).__name__, exc,
                    run.path)
