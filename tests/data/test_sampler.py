"""The training order: one process gets the batches torch's shuffling DataLoader gave before; several
processes split each global batch so that together they hold exactly the one-process batch."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader

from sharpreg.data.sampler import GlobalBatches, epoch_order

from .test_augment import phantom


@pytest.mark.parametrize("n, seed, epoch", [(10, 3, 0), (37, 0, 5), (1, 2, 1), (64, 11, 2)])
def test_one_process_gets_the_batches_of_a_shuffling_dataloader(n, seed, epoch):
    legacy = DataLoader(list(range(n)), batch_size=4, shuffle=True,
                        generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
    sampler = GlobalBatches(n, 4, seed)
    sampler.set_epoch(epoch)
    assert [[int(i) for i in b] for b in legacy] == [[i for _, i in b] for b in sampler]
    assert epoch_order(n, seed, epoch) != epoch_order(n, seed, epoch + 1) or n == 1


@pytest.mark.parametrize("n, batch, world", [(10, 4, 2), (10, 4, 3), (9, 7, 2), (5, 5, 5), (13, 8, 4)])
def test_the_processes_split_each_global_batch_and_pad_an_empty_part(n, batch, world):
    one = GlobalBatches(n, batch, 5)
    parts = [GlobalBatches(n, batch, 5, rank=r, world=world) for r in range(world)]
    for s in (one, *parts):
        s.set_epoch(2)
    per_rank = [list(s) for s in parts]
    for step, whole in enumerate(one):
        got = []
        for r, s in enumerate(parts):
            mine = per_rank[r][step]
            real = s.local_size(step)
            assert all(e == 2 for e, _ in mine)  # the epoch rides along with each index
            if real == 0:
                assert len(mine) == 1 and mine[0] in whole  # one padding image (weight 0 in the step)
            else:
                assert len(mine) == real
                got += mine
        assert got == whole  # in order: process r holds the r-th contiguous part
        assert sum(s.local_size(step) for s in parts) == one.global_size(step) == len(whole)
        sizes = [s.local_size(step) for s in parts]
        assert max(sizes) - min(sizes) <= 1


def test_a_resumed_epoch_starts_at_its_step_and_steps_are_capped():
    s = GlobalBatches(20, 3, 1, max_steps=5)
    s.set_epoch(4)
    full = list(s)
    s.set_epoch(4, start=3)
    assert len(full) == 5 and list(s) == full[3:] and len(s) == 2


def test_persistent_workers_augment_each_epoch_with_its_own_seed(ctx):
    dm = phantom(ctx, 8)
    n = len(dm.labels("train"))
    sampler = GlobalBatches(n, 4, 0)
    loader = DataLoader(dm.dataset("train"), batch_sampler=sampler, num_workers=1, persistent_workers=True)
    seen = {}
    for epoch in (0, 1):
        sampler.set_epoch(epoch)  # the workers' copies of the data set are never told the epoch
        seen[epoch] = torch.cat([b["image"] for b in loader])
    order = [i for b in (sampler.set_epoch(1) or sampler) for _, i in b]
    dm.set_epoch(1)
    ds = dm.dataset("train")
    assert torch.equal(seen[1], torch.stack([ds[i]["image"] for i in order]))
    assert not torch.equal(seen[0], seen[1])
