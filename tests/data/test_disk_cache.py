"""The disk cache of decoded, resized images: the same items as the memory cache, written once and read by
the next data module (another run or process) without decoding; a changed file or another preprocessing
is another entry."""

from __future__ import annotations

import os

import numpy as np
import torch

from sharpreg.data import io as data_io
from sharpreg.data.diskcache import VERSION, ImageCache, cache_key, cache_mode, source_key
from sharpreg_plugins.datasets.busi import BusiData, BusiParams

from .conftest import busi_tree


def busi(root, ctx, cache: str, **kw) -> BusiData:
    params = BusiParams(root=root, image_size=24, cache=cache, split={"val": 0.25, "test": 0.25}, **kw)
    dm = BusiData(params, ctx())
    dm.setup()
    return dm


def items(ds) -> list[dict]:
    return [ds[i] for i in range(len(ds))]


def counting_reads(monkeypatch) -> list[str]:
    seen: list[str] = []
    real = data_io.read_image

    def read(path, *a, **kw):
        seen.append(str(path))
        return real(path, *a, **kw)

    monkeypatch.setattr(data_io, "read_image", read)
    return seen


def test_disk_cache_gives_the_memory_items_and_the_next_module_decodes_nothing(tmp_path, ctx, monkeypatch):
    root = busi_tree(tmp_path / "busi")
    memory = items(busi(root, ctx, "memory").dataset("val", train_transforms=False))
    cache_dir = ImageCache().root
    assert cache_mode(busi(root, ctx, "auto")) == "disk"
    first = busi(root, ctx, "disk").dataset("val", train_transforms=False)
    files = sorted(cache_dir.rglob("*.npy"))
    assert cache_dir.name == VERSION and len(files) == len(first) == len(memory)
    reads = counting_reads(monkeypatch)
    again = items(busi(root, ctx, "disk").dataset("val", train_transforms=False))
    assert reads == []  # every image came from the disk
    for a, b, c in zip(memory, items(first), again):
        assert a["id"] == b["id"] == c["id"] and a["label"] == b["label"] == c["label"]
        assert torch.equal(a["image"], b["image"]) and torch.equal(a["image"], c["image"])
    # another preprocessing (RGB instead of grey) is another entry; it decodes again
    busi(root, ctx, "disk", **{"channels": 3}).dataset("val", train_transforms=False)
    assert len(reads) == len(first) and len(sorted(cache_dir.rglob("*.npy"))) == 2 * len(files)


def test_a_changed_image_is_not_served_from_the_cache(tmp_path):
    f = tmp_path / "a.png"
    f.write_bytes(b"one")
    before = source_key(str(f))
    os.utime(f, ns=(1, 1))
    assert source_key(str(f)) != before
    assert source_key(None, pixels="abc") == "pixels:abc" != source_key(None, pixels="abd")
    a = np.zeros((2, 2), np.uint8)
    assert source_key(a) == source_key(a.copy()) != source_key(a + 1)
    assert cache_key("x", "sig1") != cache_key("x", "sig2")


def test_a_torn_or_foreign_file_is_a_miss_never_a_result(tmp_path):
    cache = ImageCache(tmp_path)
    key = cache_key("x", "y")
    cache.put(key, np.ones((1, 2, 2), np.float32))
    assert np.array_equal(cache.get(key), np.ones((1, 2, 2), np.float32))
    cache.path(key).write_bytes(b"\x93NUMPY garbage")
    assert cache.get(key) is None
    obj = np.array([{"a": 1}], dtype=object)
    np.save(cache.path(key), obj, allow_pickle=True)
    assert cache.get(key) is None  # pickled content is refused, not loaded
    assert not list(tmp_path.rglob("*.tmp"))
