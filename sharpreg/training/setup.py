"""Seeding and learning-rate schedules."""

from __future__ import annotations

import math
import random

import numpy as np
import torch

from ..recipe.core import TrainConfig


def seed_everything(seed: int, deterministic: bool) -> dict[str, object]:
    """Seed python, numpy, torch and MONAI; return the effective determinism flags."""
    from monai.utils import set_determinism

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    set_determinism(seed=seed, use_deterministic_algorithms=None)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        # deterministic kernels without torch's debugging fill of every new tensor with NaN: the same
        # results, 3-11 % less time per step on a CPU (benchmarks/breastmnist_step.py)
        torch.utils.deterministic.fill_uninitialized_memory = False
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    else:
        torch.use_deterministic_algorithms(False)
        torch.backends.cudnn.benchmark = True
        torch.backends.cudnn.deterministic = False
    return {
        "seed": seed,
        "deterministic": deterministic,
        "torch_deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "torch_fill_uninitialized_memory": torch.utils.deterministic.fill_uninitialized_memory,
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
        "cudnn_deterministic": torch.backends.cudnn.deterministic,
        "torch_num_threads": torch.get_num_threads(),
    }


def lr_factor(train: TrainConfig, step: int, total_steps: int, steps_per_epoch: int, base_lr: float) -> float:
    """Multiplier of the base learning rate at optimizer step ``step`` (0-based).

    A warm-up ramps the rate linearly over its first steps; the schedule then takes over. Step and
    multistep count epochs from the start of training (the warm-up included; multistep milestones are
    validated to lie after it), so with no warm-up ``multistep`` matches torch's ``MultiStepLR`` stepped
    once per epoch; cosine runs from the end of the warm-up to the last step."""
    warm = int(round(train.warmup_epochs * steps_per_epoch))
    if warm and step < warm:
        return (step + 1) / warm
    if train.scheduler == "constant":
        return 1.0
    if train.scheduler == "step":
        return train.step_gamma ** (step // max(1, train.step_epochs * steps_per_epoch))
    if train.scheduler == "multistep":
        return train.step_gamma ** sum(step >= m * steps_per_epoch for m in train.milestones)
    span = max(1, total_steps - warm)
    progress = min(1.0, (step - warm) / span)
    floor = train.min_lr / base_lr if base_lr > 0 else 0.0
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))
