"""Distributed data parallel support for the multi-pass step.

All passes run under ``DistributedDataParallel.no_sync()`` (no automatic all-reduce); the engine
averages exactly what must be shared:

* ``perturbation = "global"``: the first-pass gradient, before the ascent (every replica perturbs by
  the same, global gradient);
* ``perturbation = "local"``: nothing before the ascent (each replica perturbs by its own gradient,
  the original SAM's m-sharpness);
* before ``combine``: every gradient the rule still holds and that is not yet averaged (for SAM that is
  the one final-pass gradient: one all-reduce per step), so the combination and any post-step term are
  identical on every replica.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch
import torch.distributed as dist
from torch import nn


def is_distributed(model: nn.Module) -> bool:
    return (
        dist.is_available()
        and dist.is_initialized()
        and isinstance(model, nn.parallel.DistributedDataParallel)
        and dist.get_world_size() > 1
    )


def world_size(model: nn.Module) -> int:
    """Replicas that average their gradients (1 without DDP)."""
    return dist.get_world_size() if is_distributed(model) else 1


def no_sync(model: nn.Module) -> contextlib.AbstractContextManager[Any]:
    if is_distributed(model):
        return model.no_sync()  # type: ignore[operator]
    return contextlib.nullcontext()


def average_(tensors: list[torch.Tensor]) -> None:
    """All-reduce (mean) a list of tensors in place, one flat buffer per dtype."""
    if not tensors:
        return
    world = dist.get_world_size()
    by_dtype: dict[torch.dtype, list[torch.Tensor]] = {}
    for t in tensors:
        by_dtype.setdefault(t.dtype, []).append(t)
    for group in by_dtype.values():
        flat = torch.cat([t.reshape(-1) for t in group])
        dist.all_reduce(flat)
        flat.div_(world)
        offset = 0
        for t in group:
            n = t.numel()
            t.copy_(flat[offset : offset + n].view_as(t))
            offset += n


def all_max_(t: torch.Tensor) -> None:
    """All-reduce a flag tensor with MAX, in place."""
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
