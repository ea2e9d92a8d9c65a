"""Training batches BatchNorm can always learn from.

BatchNorm in training normalizes each channel by the statistics of the batch; with one value per
channel (one image whose feature map has shrunk to 1×1, or any ``BatchNorm1d``) it cannot, and torch
raises. A single image reaches a BatchNorm layer in three ways: the last batch of an epoch, a
micro-batch of ``train.accumulate``, and (under DDP) a rank's share of a batch. The rule, for models
with BatchNorm: no batch and no micro-batch holds fewer than two images. A last batch of one image
joins the batch before it; a batch is split into at most ``len(batch) // 2`` micro-batches. Only
``batch_size = 1`` (or a training split of one image) leaves a single image, and the step's dry run
(``probe.py``) reports it before anything is written when the model cannot take it. Under torchrun each
process's share of a batch holds at least two images too (:func:`smallest_global_batch`), unless
SyncBatchNorm normalizes over the whole batch.
"""

from __future__ import annotations

import torch
from torch import nn


def has_batchnorm(model: nn.Module) -> bool:
    """Whether ``model`` holds a BatchNorm layer (of any dimension; SyncBatchNorm included)."""
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def smallest_batch(model: nn.Module) -> int:
    """The fewest images a training batch or micro-batch of ``model`` may hold: 2 under BatchNorm, else 1."""
    return 2 if has_batchnorm(model) else 1


def smallest_global_batch(smallest: int, world: int, synced: bool) -> int:
    """The fewest images a batch of ``world`` processes may hold so that each process's share holds
    ``smallest``: under BatchNorm each process normalizes its own share, unless SyncBatchNorm pools them."""
    return smallest * world if smallest > 1 and world > 1 and not synced else smallest


def batch_sizes(n: int, batch_size: int, smallest: int) -> list[int]:
    """Sizes of an epoch's batches of ``n`` images: ``batch_size`` each, a last batch smaller than
    ``smallest`` joined to the one before it."""
    sizes = [min(batch_size, n - start) for start in range(0, n, batch_size)]
    if len(sizes) > 1 and sizes[-1] < smallest <= batch_size:
        last = sizes.pop()
        sizes[-1] += last
    return sizes


def split_count(images: int, accumulate: int, smallest: int) -> int:
    """Micro-batches a batch of ``images`` is split into: ``accumulate``, or fewer where each would hold
    fewer than ``smallest`` images (at least one)."""
    return max(1, min(accumulate, images // smallest))


def micro_batches(x: torch.Tensor, y: torch.Tensor, accumulate: int,
                  smallest: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``(x, y)`` split into :func:`split_count` micro-batches whose sizes differ by one at most."""
    k = split_count(len(y), accumulate, smallest)
    return list(zip(x.tensor_split(k), y.tensor_split(k)))


def smallest_micro_batch(n: int | None, batch_size: int, accumulate: int, smallest: int) -> int:
    """The fewest images any training micro-batch holds, for ``n`` training images (None: many)."""
    sizes = batch_sizes(n, batch_size, smallest) if n is not None else [batch_size]
    return min(size // split_count(size, accumulate, smallest) for size in sizes)
