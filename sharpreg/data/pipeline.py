"""The per-image data sets behind a data module's splits: MONAI pipelines, cached in memory or not, with
augmentation seeded per image from (seed, epoch, index) alone."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from monai import transforms as mt
from monai.data import CacheDataset, get_track_meta, set_track_meta
from monai.data import Dataset as MonaiDataset

from .diskcache import ImageCache


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Per-image transforms: torch ops on one intra-op thread (images are too small to share, and
    on a busy CPU the thread hand-off costs 10-100x the work: measured 60 ms vs 1 ms per 256 px
    rotation), and no MONAI metadata tracking (plain tensors in, plain tensors out)."""
    before, tracking = torch.get_num_threads(), get_track_meta()
    torch.set_num_threads(1)
    set_track_meta(False)
    try:
        yield
    finally:
        torch.set_num_threads(before)
        set_track_meta(tracking)


class Reseeded:
    """Mix-in: with ``aug_seed`` set, item ``i`` is augmented with a random state drawn from
    (seed, epoch, i) alone, so batches do not depend on the order, the worker processes or resuming.

    An index may be an ``(epoch, i)`` pair (see ``sampler.py``): item ``i`` with that epoch's seed,
    whatever ``epoch`` this copy of the data set holds (a persistent worker's copy is not told)."""

    aug_seed: int | None = None
    epoch: int = 0
    transform: Any

    def _index(self, index: Any) -> Any:
        """Reseed for ``index``; returns the plain index."""
        epoch = self.epoch
        if isinstance(index, tuple) and len(index) == 2:
            epoch, index = int(index[0]), int(index[1])
        self._reseed(index, epoch)
        return index

    def _reseed(self, index: Any, epoch: int) -> None:
        if self.aug_seed is None or not isinstance(index, (int, np.integer)):
            return
        rs = self.__dict__.get("_rs")
        if rs is None:  # one generator shared by the chain's random transforms, reseeded per item
            rs = self.__dict__["_rs"] = np.random.RandomState(0)
            for t in getattr(self.transform, "transforms", [self.transform]):
                if isinstance(t, mt.Randomizable):
                    t.set_random_state(state=rs)  # dictionary transforms pass it to their inner ones
        rs.seed(np.random.SeedSequence([self.aug_seed, epoch, int(index)]).generate_state(4))


class CachedImages(Reseeded, CacheDataset):
    def __getitem__(self, index: Any) -> Any:
        index = self._index(index)
        with one_thread():
            return super().__getitem__(index)


class Images(Reseeded, MonaiDataset):
    def __getitem__(self, index: Any) -> Any:
        index = self._index(index)
        with one_thread():
            return super().__getitem__(index)


class DiskCachedImages(CachedImages):
    """Cached in memory, filled from the disk cache (decoding only images it lacks, and adding them)."""

    def __init__(self, records: list[dict[str, Any]], keys: list[str], disk: ImageCache, **kw: Any) -> None:
        self.keys, self.disk = keys, disk
        super().__init__(records, **kw)

    def _load_cache_item(self, idx: int) -> Any:
        record = self.data[idx]
        image = self.disk.get(self.keys[idx])
        if image is None:
            image = np.asarray(super()._load_cache_item(idx)["image"], dtype=np.float32)
            self.disk.put(self.keys[idx], image)
        return {**{k: record[k] for k in KEPT if k in record}, "image": torch.from_numpy(image)}


#: what a cached item keeps of its record besides the image
KEPT = ("label", "id")


def image_dataset(records: list[dict[str, Any]], chain: mt.Compose, *, cache: str = "memory",
                  keys: list[str] | None = None) -> Reseeded:
    """The records through ``chain``. ``cache``: ``"none"`` decodes every time; ``"memory"`` decodes every
    record once, up front; ``"disk"`` too, but reads what the disk cache has (by ``keys``) and adds the rest.
    Cached items are not copied per access: the random transforms after the cache point never write in place."""
    if cache == "none":
        return Images(records, transform=chain)
    kw: dict[str, Any] = dict(transform=chain, cache_rate=1.0, progress=False,
                              num_workers=min(4, os.cpu_count() or 1), copy_cache=False)
    with one_thread():
        if cache == "disk":
            if keys is None or len(keys) != len(records):
                raise ValueError("a disk cache needs one key per record")
            return DiskCachedImages(records, keys, ImageCache(), **kw)
        return CachedImages(records, **kw)
