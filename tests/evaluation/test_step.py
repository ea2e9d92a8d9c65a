"""The evaluation step's loss builder: the one place the training objective is made."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sharpreg.evaluation.step import build_loss
from sharpreg.recipe.core import TrainConfig


def test_balanced_class_weights_and_label_smoothing() -> None:
    loss = build_loss(TrainConfig(class_weights="balanced", label_smoothing=0.1), np.array([0, 0, 0, 1]), 2)
    assert loss.weight.tolist() == pytest.approx([4 / (2 * 3), 4 / (2 * 1)])
    assert loss.label_smoothing == pytest.approx(0.1)
    absent = build_loss(TrainConfig(class_weights="balanced"), np.array([0, 0]), 3)  # a class without images
    assert absent.weight.tolist() == pytest.approx([2 / 6, 2 / 3, 2 / 3])
    plain = build_loss(TrainConfig(label_smoothing=0.2), np.array([0, 1]), 2)
    assert plain.weight is None and plain.label_smoothing == pytest.approx(0.2)


def test_without_a_train_config_the_loss_is_plain_cross_entropy() -> None:
    logits, y = torch.tensor([[2.0, 0.5], [0.1, 1.0]]), torch.tensor([0, 1])
    assert build_loss(None)(logits, y) == pytest.approx(float(torch.nn.functional.cross_entropy(logits, y)))
