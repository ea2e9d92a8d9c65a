"""Which torch device a run uses."""

from __future__ import annotations

import torch

from .errors import SharpregError


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA, then MPS, then CPU; asking for a missing device is a clear error."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise SharpregError("train.device = 'cuda' but no CUDA GPU is available; use 'auto' or 'cpu'")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise SharpregError("train.device = 'mps' but MPS is not available; use 'auto' or 'cpu'")
    return torch.device(name)


def check_precision(precision: str, device: torch.device) -> None:
    """fp16 needs the engine's loss scaling on a CUDA GPU."""
    if precision == "fp16" and device.type != "cuda":
        raise SharpregError("train.precision = 'fp16' needs a CUDA GPU; use 'bf16' or 'fp32' on this device")
