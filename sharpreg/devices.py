"""Which torch device a run uses."""

from __future__ import annotations

import torch

from .errors import SharpregError


def resolve_device(name: str, local_rank: int | None = None) -> torch.device:
    """``auto`` picks CUDA, then MPS, then CPU; asking for a missing device is a clear error. With
    ``local_rank`` (a process of a multi-process run) a CUDA device is that process's own GPU."""
    device = _resolve(name)
    if device.type != "cuda" or local_rank is None:
        return device
    count = torch.cuda.device_count()
    if local_rank >= count:
        raise SharpregError(f"{local_rank + 1} or more processes on this machine but only {count} CUDA GPU"
                            f"{'s' if count != 1 else ''}: start at most {count} processes per machine")
    return torch.device("cuda", local_rank)


def _resolve(name: str) -> torch.device:
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
    """fp16 needs the engine's loss scaling on a CUDA GPU; bf16 on CUDA needs a GPU that has it."""
    if precision == "fp16" and device.type != "cuda":
        raise SharpregError("train.precision = 'fp16' needs a CUDA GPU; use 'bf16' or 'fp32' on this device")
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise SharpregError(f"train.precision = 'bf16' but {torch.cuda.get_device_name(device)} has no bfloat16; "
                            "use 'fp16' (with the engine's loss scaling) or 'fp32'")
