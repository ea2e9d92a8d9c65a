"""The evaluation step, shared by training (validation and test), ``sharpreg evaluate`` and
``sharpreg sharpness``: one way to load a trained model and to score its predictions (the loss is the
recipe's ``[loss]``, built by ``sharpreg.build.build_loss``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset, Subset

from ..build import build_metrics, build_model, model_inputs
from ..devices import Placement
from ..distributed import SINGLE, Replicas, gather
from ..errors import RunError
from ..metrics import Metric, ThresholdChoice, bootstrap_intervals, choose_threshold, compute_metrics, positive_of
from ..recipe import Recipe
from ..recipe.core import EvalConfig
from ..runs import Predictions, RunFolder
from ..runs.export import ExportedModel
from ..runs.folder import Weights
from .inference import LossFn, merge, predict


@dataclass
class TrainedModel:
    """A run's trained network, with the recipe it was trained by and the classes it predicts."""

    run: RunFolder | ExportedModel
    recipe: Recipe
    model: nn.Module
    classes: list[str]
    weights: str
    """the file the weights came from, relative to the run folder"""


def load_trained(run: RunFolder | ExportedModel, device: torch.device, choice: Weights = "best") -> TrainedModel:
    """Rebuild the run's network from its resolved recipe and load its trained weights (see
    :meth:`RunFolder.load_weights` for ``choice``)."""
    recipe = run.load_recipe()
    classes = run.classes()
    model = build_model(recipe, model_inputs(recipe, classes))
    state, used = run.load_weights(choice)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise RunError(f"{run.path / used} does not fit the model of {run.resolved_file}: "
                       f"{str(exc).splitlines()[0]}") from None
    return TrainedModel(run, recipe, model.to(device), classes, used)


@dataclass
class Evaluator:
    """Predictions of ``model`` (eval mode, no augmentation) and their scores from the metric table."""

    model: nn.Module
    device: torch.device
    loss_fn: LossFn
    classes: list[str]
    eval: EvalConfig
    batch_size: int
    precision: str = "fp32"
    num_workers: int = 0
    extra_metrics: tuple[Metric, ...] = ()
    """the plugin metrics the recipe lists (``[[metrics]]``)"""
    replicas: Replicas = SINGLE
    """the processes of a multi-process run: each predicts its share, every one gets all predictions"""
    channels_last: bool = False

    @classmethod
    def for_recipe(cls, recipe: Recipe, model: nn.Module, placement: Placement, loss_fn: LossFn,
                   classes: list[str], *, replicas: Replicas = SINGLE, channels_last: bool = False) -> Evaluator:
        """Batches of ``train.batch_size`` on the placement's device, precision and workers; the recipe's
        plugin metrics."""
        return cls(model, placement.device, loss_fn, classes, recipe.eval, recipe.train.batch_size, placement.precision,
                   placement.num_workers, build_metrics(recipe), replicas, channels_last)

    def predict(self, dataset: Dataset, label_map: torch.Tensor | None = None) -> Predictions:
        """Predictions on every case of ``dataset``, in its order (under several processes: each predicts
        every n-th case, and the parts are gathered, so metrics are computed on the whole set)."""
        rep = self.replicas
        share = Subset(dataset, range(rep.rank, len(dataset), rep.world)) if rep.active else dataset  # type: ignore[arg-type]
        part = predict(self.model, share, device=self.device, batch_size=self.batch_size, precision=self.precision,
                       num_workers=self.num_workers, loss_fn=self.loss_fn, label_map=label_map,
                       channels_last=self.channels_last)
        return merge(gather(part, rep)) if rep.active else part

    def metrics(self, labels: np.ndarray, probs: np.ndarray, threshold: float | None = None) -> dict[str, float]:
        """Every metric of the table that predictions define (and, with ``threshold``, those at it)."""
        if not np.isfinite(probs).all():
            raise RunError("the model predicts non-finite probabilities: its weights have diverged. Lower "
                           "optimizer.lr or set train.clip_grad_norm, and train it again")
        return compute_metrics(labels, probs, self.classes, positive_class=self.eval.positive_class,
                               calibration_bins=self.eval.calibration_bins, threshold=threshold,
                               extra=self.extra_metrics)

    def score(self, pred: Predictions, threshold: float | None = None) -> dict[str, float]:
        """The loss and every metric of the table."""
        return {"loss": pred.loss} | self.metrics(pred.labels, pred.probs, threshold)

    def intervals(self, pred: Predictions, threshold: float | None = None) -> dict[str, list[float | None]]:
        """Bootstrap intervals of the metrics, as ``[eval]`` asks (a threshold stays fixed)."""
        ev = self.eval
        return bootstrap_intervals(pred.labels, pred.probs, self.classes, resamples=ev.bootstrap,
                                   confidence=ev.confidence, seed=ev.bootstrap_seed,
                                   positive_class=ev.positive_class, calibration_bins=ev.calibration_bins,
                                   threshold=threshold, extra=self.extra_metrics)

    def choose_threshold(self, val: Predictions) -> ThresholdChoice | None:
        """The operating threshold chosen on validation predictions by ``eval.threshold`` (binary tasks
        only; None otherwise or when a class is missing from ``val``)."""
        if len(self.classes) != 2 or len(val) == 0:
            return None
        pos = self.classes.index(positive_of(self.classes, self.eval.positive_class))
        return choose_threshold(val.labels == pos, val.probs[:, pos], self.eval.threshold,
                                target_sensitivity=self.eval.target_sensitivity)
