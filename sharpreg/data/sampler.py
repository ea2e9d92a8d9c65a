"""The order of the training images: one shuffle per (seed, epoch), cut into the steps' global batches,
each batch shared out among the run's processes.

One process gets exactly the batches torch's ``DataLoader(shuffle=True, generator=...)`` gave before
(the same random draws), so runs keep their results. Under DDP process ``r`` of ``W`` gets the r-th
contiguous part of each global batch (sizes differ by one at most); the union over the processes is the
one-process batch, so the step's averaged gradient is the one-process gradient. A process whose part of
the last batch is empty gets one image of it as padding, with weight 0 (it must still take part in the
step's collectives). Indices come as ``(epoch, index)`` pairs: a worker process that outlives an epoch
(persistent workers) still augments each image with that epoch's seed.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler

EPOCH_SEED = 1_000_003


def epoch_order(n: int, seed: int, epoch: int) -> list[int]:
    """The shuffled order of ``n`` images in ``epoch``: torch's RandomSampler behind a DataLoader with a
    generator seeded ``seed * 1_000_003 + epoch`` (the loader draws its workers' base seed first)."""
    g = torch.Generator().manual_seed(seed * EPOCH_SEED + epoch)
    torch.empty((), dtype=torch.int64).random_(generator=g)
    return torch.randperm(n, generator=g).tolist()


class GlobalBatches(Sampler[list[tuple[int, int]]]):
    """Batches of one process: ``steps`` per epoch of ``batch_size`` images over all processes."""

    def __init__(self, n: int, batch_size: int, seed: int, *, rank: int = 0, world: int = 1,
                 max_steps: int | None = None, sizes: list[int] | None = None) -> None:
        """``sizes``: the global batches' sizes (default: ``batch_size`` each, the last one shorter)."""
        if n < 1 or batch_size < 1 or not 0 <= rank < world:
            raise ValueError(f"bad sampler shape: n={n}, batch_size={batch_size}, rank={rank}, world={world}")
        self.n, self.batch_size, self.seed, self.rank, self.world = n, batch_size, seed, rank, world
        self.sizes = sizes or [min(batch_size, n - s) for s in range(0, n, batch_size)]
        if sum(self.sizes) != n:
            raise ValueError(f"batch sizes {self.sizes} do not add up to {n} images")
        self.starts = [sum(self.sizes[:k]) for k in range(len(self.sizes))]
        steps = len(self.sizes)
        self.steps = min(steps, max_steps) if max_steps else steps
        self.epoch, self.start = 0, 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """The next iteration gives ``epoch``'s batches from step ``start`` on (a resumed epoch skips the
        steps it has done without loading their images)."""
        self.epoch, self.start = epoch, start

    def __len__(self) -> int:
        return max(0, self.steps - self.start)

    def global_size(self, step: int) -> int:
        """Images in step ``step`` over all processes."""
        return self.sizes[step]

    def local_size(self, step: int) -> int:
        """This process's real images in step ``step`` (0: it holds one padding image)."""
        lo, hi = self._bounds(self.global_size(step))
        return hi - lo

    def _bounds(self, size: int) -> tuple[int, int]:
        """This process's part of a batch of ``size``: the first ``size % world`` parts hold one more."""
        base, extra = divmod(size, self.world)
        lo = self.rank * base + min(self.rank, extra)
        return lo, lo + base + (1 if self.rank < extra else 0)

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        order = epoch_order(self.n, self.seed, self.epoch)
        for step in range(self.start, self.steps):
            batch = order[self.starts[step] : self.starts[step] + self.sizes[step]]
            lo, hi = self._bounds(len(batch))
            part = batch[lo:hi] or batch[:1]
            yield [(self.epoch, i) for i in part]
