"""Evaluate a trained run on another data set (``sharpreg evaluate RUN --data OTHER.toml``).

OTHER.toml holds ``schema_version`` and a ``[data]`` table (optionally ``[eval]``). Its data set is
validated by its plugin like any recipe's; all of it is the test set unless its ``[data.split]`` says
otherwise; preprocessing (image size, channels) follows the trained run; classes are matched by name.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..build import build_datamodule
from ..errors import RecipeError, RunError, SharpregError
from ..recipe import Recipe, load_recipe
from ..recipe.loader import RawRecipe, apply_overrides, load_raw
from ..recipe.validate import validate
from ..registry import default_registry
from ..runs import RunFolder
from ..specs import ModelInputs
from ..training.checkpoint import load_checkpoint
from ..training.setup import resolve_device
from ..metrics import bootstrap_intervals, compute_metrics
from ..runs.summary import finite_or_none
from .inference import Predictions, predict
from .predictions import write_predictions

log = logging.getLogger("sharpreg")
ALLOWED = ("schema_version", "requires", "data", "eval", "meta")
FIXED = ("image_size", "channels")


@dataclass
class CrossEvaluation:
    recipe: Recipe
    out: Path
    metrics: dict[str, float]
    intervals: dict[str, list[float | None]]
    class_map: dict[str, str]
    n: int


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
    for key in FIXED:
        want = getattr(trained.data.params, key)
        if key in data and data[key] != want:
            issues.append(other.issue(("data", key), f"is {data[key]!r} but the model was trained with {key} = {want!r}; "
                                                     "preprocessing follows the trained run: remove this key"))
    if issues:
        raise RecipeError(sorted(issues, key=lambda i: i.line or 0))
    data = dict(data) | {k: getattr(trained.data.params, k) for k in FIXED}
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


def load_model(run: RunFolder, trained: Recipe, classes: list[str], checkpoint: str, device: torch.device) -> nn.Module:
    """The trained network with the weights of ``checkpoint`` ("best", "last") or ``model.safetensors``."""
    p = trained.data.params
    model = trained.model.spec.factory(trained.model.params,
                                       ModelInputs(in_chans=int(p.channels), num_classes=len(classes), image_size=int(p.image_size)))
    file = run.path / "checkpoints" / f"{checkpoint}.pt"
    if checkpoint == "safetensors" or (checkpoint == "best" and not file.is_file()):
        from safetensors.torch import load_file

        file = run.path / "model.safetensors"
        if not file.is_file():
            raise RunError(f"{run.path} has neither checkpoints/best.pt nor model.safetensors")
        state = load_file(str(file))
    else:
        state = load_checkpoint(file)["model"]
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise RunError(f"the weights in {file} do not fit the run's model: {str(exc).splitlines()[0]}") from None
    return model.to(device)


def model_classes(run: RunFolder) -> list[str]:
    for name in ("summary.json",):
        f = run.path / name
        if f.is_file():
            return list(json.loads(f.read_text(encoding="utf-8"))["classes"])
    ck = run.path / "checkpoints" / "best.pt"
    if ck.is_file():
        return list(load_checkpoint(ck)["classes"])
    raise RunError(f"{run.path} has no summary.json or checkpoints/best.pt: has it trained an epoch?")


def _out_dir(run: RunFolder, name: str) -> Path:
    base = run.path / "evaluations" / name
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{name}-{n}")
    path.mkdir(parents=True)
    return path


def evaluate_on(run_path: Path, other_path: Path, overrides: list[str] | None = None, *, checkpoint: str = "best",
                name: str | None = None, device: str | None = None) -> CrossEvaluation:
    """Score the run's model on OTHER.toml's data; write ``evaluations/<name>/`` in the run folder."""
    run = RunFolder.open(run_path)
    trained_raw = load_raw(run.path / "resolved.toml")
    trained = load_recipe(run.path / "resolved.toml")
    recipe = data_recipe(trained, trained_raw, Path(other_path), list(overrides or []))
    classes = model_classes(run)
    dev = resolve_device(device or trained.train.device)
    dm = build_datamodule(recipe)
    dm.setup()
    mapping = match_classes(dm.class_names, classes)
    if len(dm.labels("test")) == 0:
        raise SharpregError(f"{other_path}: no test images (data.split.method = {recipe.data.params.split.method!r}); "
                            "leave [data.split] out to use every image")
    model = load_model(run, trained, classes, checkpoint, dev)
    remap = torch.tensor(mapping, device=dev)
    ce = nn.CrossEntropyLoss()
    pred = predict(model, dm.dataset("test", train_transforms=False), device=dev, batch_size=trained.train.batch_size,
                   precision=trained.train.precision, num_workers=trained.train.num_workers,
                   loss_fn=lambda logits, y: ce(logits, remap[y]))
    labels = np.asarray(mapping)[pred.labels]
    pred = Predictions(pred.ids, labels, pred.probs, pred.loss)
    ev = recipe.eval
    absent = [c for i, c in enumerate(classes) if not (labels == i).any()]
    if absent:
        log.warning("the data set has no images of %s: metrics of those classes are undefined", ", ".join(absent))
    metrics = {"loss": pred.loss} | compute_metrics(labels, pred.probs, classes, positive_class=ev.positive_class,
                                                    calibration_bins=ev.calibration_bins)
    intervals = bootstrap_intervals(labels, pred.probs, classes, resamples=ev.bootstrap, confidence=ev.confidence,
                                    seed=ev.bootstrap_seed, positive_class=ev.positive_class,
                                    calibration_bins=ev.calibration_bins)
    out = _out_dir(run, name or Path(other_path).stem)
    shutil.copyfile(other_path, out / "data.toml")
    write_predictions(out / "predictions.csv", pred, classes)
    class_map = {d: classes[m] for d, m in zip(dm.class_names, mapping)}
    record: dict[str, Any] = {
        "run": str(run.path), "data_file": str(Path(other_path).resolve()), "overrides": list(overrides or []),
        "checkpoint": checkpoint, "dataset": recipe.data.name, "data": recipe.resolved()["data"],
        "class_map": class_map, "n": len(labels), "counts": {c: int((labels == i).sum()) for i, c in enumerate(classes)},
        "metrics": finite_or_none(metrics), "ci": intervals,
        "ci_method": {"method": "percentile bootstrap over cases", "resamples": ev.bootstrap, "confidence": ev.confidence,
                      "seed": ev.bootstrap_seed},
        "classes": classes, "positive_class": ev.positive_class,
    }
    (out / "metrics.json").write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
    (out / "split.json").write_text(json.dumps(dm.split_record(), indent=2, default=str) + "\n", encoding="utf-8")
    from ..reporting import plots

    title = f"{trained.name} on {Path(other_path).stem}"
    plots.confusion_matrix(labels, pred.probs, classes, out / "plots" / "confusion_matrix.png", title=title)
    plots.roc(labels, pred.probs, classes, out / "plots" / "roc.png", positive_class=ev.positive_class,
              auroc_ci=intervals.get("auroc"), confidence=ev.confidence, title=title)
    return CrossEvaluation(recipe, out, metrics, intervals, class_map, len(labels))
