"""How the model runs: its memory layout, SyncBatchNorm, ``torch.compile`` and DDP.

:func:`place_model` changes the network itself (before the optimizer sees its parameters); :func:`wrap` puts
the callables around it that the engine and the evaluation step call. The network (``model``) keeps its
plain parameter names, so checkpoints and ``model.safetensors`` are the same however a run was executed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..distributed import Replicas
from ..errors import SharpregError
from ..recipe.core import TrainConfig


def channels_last_helps(cfg: TrainConfig, device: torch.device, model: nn.Module) -> bool:
    """``train.memory_format``: channels_last for convolutional models on CUDA (tensor-core kernels
    want NHWC); ``auto`` leaves other devices and models alone."""
    if cfg.memory_format != "auto":
        return cfg.memory_format == "channels_last"
    return device.type == "cuda" and any(isinstance(m, nn.Conv2d) for m in model.modules())


def place_model(model: nn.Module, cfg: TrainConfig, device: torch.device, rep: Replicas) -> tuple[nn.Module, bool]:
    """The network on its device, in its memory layout, with SyncBatchNorm where asked; returns it and
    whether its inputs go channels_last too."""
    model = model.to(device)
    channels_last = channels_last_helps(cfg, device, model)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    elif cfg.memory_format == "contiguous":
        model = model.to(memory_format=torch.contiguous_format)
    if cfg.sync_batchnorm and rep.active:
        if device.type != "cuda":
            raise SharpregError("train.sync_batchnorm = true needs CUDA GPUs (torch's SyncBatchNorm runs on GPUs "
                                "only); set it to false on this machine")
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return model, channels_last


@dataclass
class Wrapped:
    forward: nn.Module
    """what evaluation calls: the network, or its compiled forward"""
    train_forward: nn.Module
    """what the engine calls: ``forward``, inside DDP when several processes share the run"""


def wrap(model: nn.Module, cfg: TrainConfig, device: torch.device, rep: Replicas) -> Wrapped:
    """``torch.compile`` of the network's forward (not of the multi-pass step) and, for several processes,
    DDP around it. The engine runs every pass under ``no_sync`` and averages what it must itself; DDP
    still makes the processes start from rank 0's weights and keeps BatchNorm buffers as rank 0's."""
    forward: nn.Module = model
    if cfg.compile:
        forward = torch.compile(model)  # type: ignore[assignment]
    train_forward = forward
    if rep.active:
        train_forward = nn.parallel.DistributedDataParallel(
            forward, device_ids=[device.index] if device.type == "cuda" else None)
    return Wrapped(forward, train_forward)
