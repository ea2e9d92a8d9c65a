"""Running statistics of normalization layers across the passes of one step.

The momentum-0 trick used by common SAM code still increments ``num_batches_tracked`` on every pass
(which changes the averaging of ``momentum=None`` BatchNorm). sharpreg instead saves the buffers and
restores them by copy, so the chosen pass(es) leave exactly the statistics one forward would.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.modules.batchnorm import _NormBase


def running_stat_buffers(model: nn.Module) -> list[torch.Tensor]:
    """Buffers of every normalization layer that tracks running statistics."""
    out: list[torch.Tensor] = []
    for m in model.modules():
        if isinstance(m, _NormBase) and m.track_running_stats:
            out.extend(b for b in (m.running_mean, m.running_var, m.num_batches_tracked) if b is not None)
    return out


class BufferSnapshot:
    """One preallocated copy of the running-statistics buffers; ``save``/``restore`` by copy."""

    def __init__(self, buffers: list[torch.Tensor]) -> None:
        self.buffers = buffers
        self.copy = [b.detach().clone() for b in buffers]

    def save(self) -> None:
        if self.buffers:
            torch._foreach_copy_(self.copy, self.buffers)

    def restore(self) -> None:
        if self.buffers:
            torch._foreach_copy_(self.buffers, self.copy)
