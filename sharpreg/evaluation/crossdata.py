"""Evaluate a trained run, or an exported model, on another data set (``sharpreg evaluate RUN --data OTHER.toml``).

OTHER.toml holds ``schema_version`` and a ``[data]`` table (optionally ``[eval]``). Its data set is
validated by its plugin like any recipe's; all of it is the test set unless its ``[data.split]`` says
otherwise; preprocessing (image size, channels) follows the trained run; classes are matched by name.
The loss reported is the run's ``[loss]`` without class weights (they belong to its own training split).
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..build import build_datamodule, build_loss
from ..devices import place
from ..errors import RecipeError, SharpregError
from ..paths import folder_name, name_problem
from ..recipe import Recipe
from ..recipe.loader import RawRecipe, apply_overrides, load_raw
from ..recipe.validate import validate
from ..registry import default_registry
from ..runs import EvaluationFolder, RunFolder
from ..runs.export import ExportedModel
from ..runs.folder import Weights
from ..runs.summary import finite_or_none
from .step import Evaluator, load_trained

log = logging.getLogger("sharpreg")
ALLOWED = ("schema_version", "requires", "data", "eval", "meta")


@dataclass
class CrossEvaluation:
    trained: Recipe
    recipe: Recipe
    folder: EvaluationFolder
    metrics: dict[str, float]
    intervals: dict[str, list[float | None]]
    class_map: dict[str, str]
    n: int

    @property
    def out(self) -> Path:
        return self.folder.path


def data_recipe(trained: Recipe, trained_raw: RawRecipe, other_path: Path, overrides: list[str]) -> Recipe:
    """The trained recipe with its ``[data]`` (and ``[eval]`` keys) replaced by OTHER.toml's."""
    other = apply_overrides(load_raw(other_path), overrides)
    issues = []
    for key in other.data:
        if key not in ALLOWED:
            issues.append(other.issue((key,), f"does not belong in a data file for `sharpreg evaluate` (the model and "
                                              f"training come from the run); allowed: {', '.join(ALLOWED)}"))
    data = other.data.get("data")
    if not isinstance(data, dict):
        issues.append(other.issue(("data",), "missing table [data]: name the data set, e.g. name = \"image_folder\""))
        raise RecipeError(issues)
    fixed = {"image_size": trained.data.params.image_size, "channels": trained.data.params.channels}
    for key, want in fixed.items():
        if key in data and data[key] != want:
            issues.append(other.issue(("data", key), f"is {data[key]!r} but the model was trained with {key} = {want!r}; "
                                                     "preprocessing follows the trained run: remove this key"))
    if issues:
        raise RecipeError(sorted(issues, key=lambda i: i.line or 0))
    data = dict(data) | fixed
    split = dict(data.get("split") or {})
    split.setdefault("method", "all")
    data["split"] = split
    merged = trained.resolved()
    merged["data"] = data
    merged["eval"] = merged.get("eval", {}) | dict(other.data.get("eval") or {})
    if "schema_version" in other.data:
        merged["schema_version"] = other.data["schema_version"]
    origins = {k: v for k, v in trained_raw.origins.items() if k[:1] not in (("data",), ("eval",))}
    origins.update({k: v for k, v in other.origins.items() if k[:1] in (("data",), ("eval",))})
    origins[()] = other.origins[()]
    raw = RawRecipe(merged, origins, [*other.files, *trained_raw.files])
    return validate(raw, default_registry(), overrides)


def match_classes(data_classes: list[str], model_classes: list[str]) -> list[int]:
    """Index in ``model_classes`` of each data class, matched by name (case-insensitive)."""
    lookup = {c.lower(): i for i, c in enumerate(model_classes)}
    missing = [c for c in data_classes if c.lower() not in lookup]
    if missing:
        raise SharpregError(f"class {missing[0]!r} of the data set is not a class of the trained model "
                            f"({', '.join(model_classes)}); the data set has {', '.join(data_classes)}. Select classes "
                            "with data.classes or rename the folders so the names match")
    return [lookup[c.lower()] for c in data_classes]


def _run_threshold(run: RunFolder | ExportedModel, checkpoint: Weights) -> float | None:
    """The operating threshold the run chose on its own validation split for its best model (None for
    the last checkpoint's weights, an exported model, or a run that chose none)."""
    if checkpoint == "last" or isinstance(run, ExportedModel):
        return None
    summary = run.read_summary(missing_ok=True)
    return None if summary is None or summary.threshold is None else summary.threshold.value


def open_trained(path: Path) -> RunFolder | ExportedModel:
    """A run folder, or an exported recipe (a file) with the model beside it."""
    return ExportedModel(path) if Path(path).is_file() else RunFolder.open(path)


def evaluate_on(source: Path | RunFolder | ExportedModel, other_path: Path, overrides: list[str] | None = None, *,
                checkpoint: Weights = "best", name: str | None = None, device: str | None = None) -> CrossEvaluation:
    """Score the model of a run (or an exported one) on OTHER.toml's data; write ``evaluations/<name>/`` in the run
    folder (beside an exported recipe: ``<stem>-evaluations/<name>/``). A run folder is locked meanwhile."""
    stem = Path(other_path).stem
    name = folder_name(name, "--name") if name is not None else (stem if name_problem(stem) is None else "evaluation")
    run = source if isinstance(source, (RunFolder, ExportedModel)) else open_trained(source)
    with run.locked("evaluate") if isinstance(run, RunFolder) else nullcontext():
        return _evaluate(run, Path(other_path), list(overrides or []), checkpoint, name, device)


def _evaluate(run: RunFolder | ExportedModel, other_path: Path, overrides: list[str], checkpoint: Weights, name: str,
              device: str | None) -> CrossEvaluation:
    trained_recipe = run.load_recipe()
    recipe = data_recipe(trained_recipe, load_raw(run.resolved_file), Path(other_path), list(overrides or []))
    classes = run.classes()
    t = trained_recipe.train
    placement = place(device or t.device, t.precision, t.num_workers)
    for note in placement.notes:
        log.warning("%s", note)
    dev = placement.device
    dm = build_datamodule(recipe)
    dm.setup()
    mapping = match_classes(dm.class_names, classes)
    if len(dm.labels("test")) == 0:
        raise SharpregError(f"{other_path}: no test images (data.split.method = {recipe.data.params.split.method!r}); "
                            "leave [data.split] out to use every image")
    trained = load_trained(run, dev, checkpoint)
    loss_fn = build_loss(recipe, len(classes), None, dev)  # no class counts: no class weights
    evaluator = Evaluator.for_recipe(recipe, trained.model, placement, loss_fn, classes)  # the run's [train]
    pred = evaluator.predict(dm.dataset("test", train_transforms=False), label_map=torch.tensor(mapping, device=dev))
    absent = [c for i, c in enumerate(classes) if not (pred.labels == i).any()]
    if absent:
        log.warning("the data set has no images of %s: metrics of those classes are undefined", ", ".join(absent))
    threshold = _run_threshold(run, checkpoint)
    metrics, intervals = evaluator.score(pred, threshold), evaluator.intervals(pred, threshold)
    folder = run.new_evaluation(name)
    folder.copy_data_file(Path(other_path))
    folder.write_predictions(pred, classes)
    class_map = {d: classes[m] for d, m in zip(dm.class_names, mapping)}
    ev = recipe.eval
    record: dict[str, Any] = {
        "run": str(run.resolved_file if isinstance(run, ExportedModel) else run.path), "data_file": str(Path(other_path).resolve()), "overrides": list(overrides or []),
        "checkpoint": checkpoint, "dataset": recipe.data.name, "data": recipe.resolved()["data"],
        "class_map": class_map, "n": len(pred),
        "counts": {c: int((pred.labels == i).sum()) for i, c in enumerate(classes)},
        "metrics": finite_or_none(metrics), "ci": intervals,
        "ci_method": {"method": "percentile bootstrap over cases", "resamples": ev.bootstrap, "confidence": ev.confidence,
                      "seed": ev.bootstrap_seed},
        "classes": classes, "positive_class": ev.positive_class,
        "threshold": threshold, "threshold_source": "the run's validation split" if threshold is not None else None,
        "recipe": trained_recipe.name,
    }
    folder.write_record(record)
    folder.write_split(dm.split_record())
    return CrossEvaluation(trained_recipe, recipe, folder, metrics, intervals, class_map, len(pred))
