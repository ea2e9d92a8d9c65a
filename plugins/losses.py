"""First-party training losses: cross-entropy (class weights, label smoothing) and focal loss."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import nn

from sharpreg import LossContext, LossParams, LossSpec, hookimpl

ClassWeights = Literal["none", "balanced"]
_WEIGHTS_HELP = ("'balanced' weights each image by the inverse frequency of its class in the training split "
                 "(n / (k · n_class)); 'none' weights all alike. Without known counts (a model scored on "
                 "another data set) no weights are used.")


def class_weights(choice: ClassWeights, context: LossContext) -> torch.Tensor | None:
    """Inverse class frequencies of the training split (a class without images counts as one)."""
    if choice != "balanced" or context.class_counts is None:
        return None
    counts = torch.tensor(context.class_counts, dtype=torch.float64)
    return (counts.sum() / (len(counts) * counts.clamp_min(1.0))).float()


class CrossEntropyParams(LossParams):
    """Cross-entropy, as torch's ``CrossEntropyLoss``."""

    label_smoothing: float = Field(0.0, ge=0.0, lt=1.0, description="Label smoothing (0 = none).")
    class_weights: ClassWeights = Field("none", description=_WEIGHTS_HELP)


def cross_entropy(config: CrossEntropyParams, context: LossContext) -> nn.Module:
    return nn.CrossEntropyLoss(weight=class_weights(config.class_weights, context),
                               label_smoothing=config.label_smoothing)


class FocalParams(LossParams):
    """Focal loss: gamma 2 in Lin et al. (their alpha is a class weight: use class_weights)."""

    gamma: float = Field(2.0, ge=0.0, le=10.0, description="Focusing parameter: (1 − p_y)^gamma down-weights easy images.")
    class_weights: ClassWeights = Field("none", description=_WEIGHTS_HELP)


class FocalLoss(nn.Module):
    """mean_i w_{y_i} (1 − p_{y_i})^gamma (−log p_{y_i}) / mean_i w_{y_i}: with gamma = 0 exactly the
    (weighted) cross-entropy."""

    def __init__(self, gamma: float, weight: torch.Tensor | None) -> None:
        super().__init__()
        self.gamma = gamma
        self.register_buffer("weight", weight)

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        log_p = torch.log_softmax(logits.float(), dim=1).gather(1, labels[:, None]).squeeze(1)
        loss = -log_p if self.gamma == 0 else -((1.0 - log_p.exp()).clamp_min(0.0) ** self.gamma) * log_p
        if self.weight is None:
            return loss.mean()
        w = self.weight[labels]
        return (w * loss).sum() / w.sum()


def focal(config: FocalParams, context: LossContext) -> nn.Module:
    return FocalLoss(config.gamma, class_weights(config.class_weights, context))


@hookimpl
def sharpreg_losses() -> list[LossSpec]:
    return [
        LossSpec("cross_entropy", CrossEntropyParams, cross_entropy,
                 "Cross-entropy, optionally with balanced class weights and label smoothing."),
        LossSpec("focal", FocalParams, focal,
                 "Focal loss: cross-entropy down-weighted by (1 − p_y)^gamma for easy images.",
                 citation="Lin, Goyal, Girshick, He, Dollár. Focal Loss for Dense Object Detection. ICCV 2017. "
                 "arXiv:1708.02002"),
    ]
