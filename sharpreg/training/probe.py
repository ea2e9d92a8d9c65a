"""A dry run of the first training step on torch's ``meta`` device (shapes only: no memory, no arithmetic).

The recipe's model is built on ``meta`` and given the smallest micro-batch training will form, at the
recipe's image size, in training mode, then one image in evaluation mode. What fails there (BatchNorm with
one value per channel, an image too small or of the wrong size for the architecture) would fail at
the first step of every run of the recipe; ``sharpreg check`` reports it, and a run stops before its
first checkpoint. Failures that only mean "this layer cannot run on meta" are no verdict and pass.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch

from ..build import build_model
from ..recipe import Recipe
from ..specs import ModelInputs
from .batches import smallest_batch, smallest_micro_batch

#: words of torch errors that mean an operation cannot run on the meta device (not a verdict on the model)
_META_LIMITS = ("meta", "data-dependent", "item()", "not implemented", "NotImplemented")


@dataclass(frozen=True)
class StepProblem:
    key: tuple[str, ...]
    """the recipe key to change"""
    message: str


def first_step_problem(recipe: Recipe, *, num_classes: int | None = None,
                       train_images: int | None = None) -> StepProblem | None:
    """What would fail in the first training step or evaluation of ``recipe`` (None: nothing found)."""
    data, cfg = recipe.data.params, recipe.train
    classes = num_classes or max(2, len(getattr(data, "classes", None) or ()))
    inputs = ModelInputs(in_chans=int(data.channels), num_classes=classes, image_size=int(data.image_size))
    try:
        with torch.device("meta"), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "copying weights into meta parameters is a no-op"
            model = build_model(recipe, inputs)
    except Exception:  # a model that cannot be built on meta is no verdict; the real build will speak
        return None
    smallest = smallest_batch(model)
    micro = smallest_micro_batch(train_images, cfg.batch_size, cfg.accumulate, smallest)
    size, what = int(data.image_size), f"{recipe.model.name} {_arch(recipe)}"
    for mode, n in (("train", micro), ("eval", 1)):
        model.train(mode == "train")
        try:
            with torch.no_grad():
                model(torch.zeros(n, inputs.in_chans, size, size, device="meta"))
        except Exception as exc:
            text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            if "more than 1 value per channel" in text:
                return StepProblem(("train", "batch_size"), _single_image(what, size, cfg.batch_size, train_images))
            if any(word in text for word in _META_LIMITS) or isinstance(exc, NotImplementedError):
                return None
            return StepProblem(("data", "image_size"), f"{what} cannot take {size} px images ({type(exc).__name__}: "
                               f"{text}); change data.image_size or the model")
    return None


def _arch(recipe: Recipe) -> str:
    arch = recipe.model.params.architecture()
    return repr(arch) if arch else ""


def _single_image(what: str, size: int, batch_size: int, train_images: int | None) -> str:
    if train_images is not None and train_images < 2:
        return (f"the training split holds {train_images} image; {what} has BatchNorm, which cannot train on a "
                f"single image at {size} px: use more data or smaller data.split.val / data.split.test")
    return (f"a batch of one image cannot train {what} at {size} px: its BatchNorm needs more than one value per "
            f"channel; set train.batch_size to 2 or more (it is {batch_size})")
