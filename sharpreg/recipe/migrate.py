"""Recipes written for earlier sharpreg versions (and the ``resolved.toml`` of their runs) keep working.

``train.label_smoothing`` and ``train.class_weights`` became the parameters of the ``cross_entropy``
loss (``[loss]``); ``train.loggers`` became ``[[callbacks]]``. The old keys are moved there when the new
table is absent, and are an error beside it (one place for each setting).
"""

from __future__ import annotations

import copy

from ..errors import RecipeIssue
from .loader import RawRecipe

LOSS_KEYS = ("label_smoothing", "class_weights")


def migrate(raw: RawRecipe) -> tuple[RawRecipe, list[RecipeIssue]]:
    """``raw`` with the old keys moved, and the problems found."""
    train = raw.data.get("train")
    if not isinstance(train, dict) or not ({*LOSS_KEYS, "loggers"} & set(train)):
        return raw, []
    data = copy.deepcopy(raw.data)
    origins = dict(raw.origins)
    issues: list[RecipeIssue] = []
    train = data["train"]
    moved = {k: train.pop(k) for k in LOSS_KEYS if k in train}
    if moved:
        if "loss" in data:
            issues += [raw.issue(("train", k), "moved to [loss] (the cross_entropy loss's parameters); set it "
                                               "there only") for k in moved]
        else:
            data["loss"] = {"name": "cross_entropy", **moved}
            for k in moved:
                if ("train", k) in origins:
                    origins[("loss", k)] = origins[("train", k)]
    if "loggers" in train:
        loggers = train.pop("loggers")
        if "callbacks" in data:
            issues.append(raw.issue(("train", "loggers"), "moved to [[callbacks]]; list the trackers there only"))
        elif not isinstance(loggers, list) or not all(isinstance(n, str) for n in loggers):
            issues.append(raw.issue(("train", "loggers"), 'must be a list of tracker names, e.g. ["tensorboard"] '
                                                          "(better: [[callbacks]] name = \"tensorboard\")"))
        else:
            data["callbacks"] = [{"name": n} for n in loggers]
            for i in range(len(loggers)):
                if ("train", "loggers") in origins:
                    origins[("callbacks", str(i))] = origins[("train", "loggers")]
    return RawRecipe(data, origins, list(raw.files)), issues
