"""Augmentation drawn per image and applied per item or to a whole batch (on the GPU in training): the
same images, bit for bit, and the same images as the MONAI chain the draws follow (older runs keep their
results)."""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from monai import transforms as mt
from torch.utils.data import DataLoader

from sharpreg.data import transforms as tf
from sharpreg.data.augment import AUGMENT_KEY, apply
from sharpreg.specs import AugmentParams

from .test_augment import phantom

SETTINGS = [{}, {"flip_vertical": 0.5, "rotate_degrees": 30.0, "zoom": 0.3, "intensity": 0.3, "probability": 0.9},
            {"rotate_degrees": 0.0, "intensity": 0.0}, {"zoom": 0.0, "flip_horizontal": 0.0}]


class OldRotateZoomd(mt.RandomizableTransform, mt.MapTransform):
    """The rotation and zoom transform of sharpreg before the draws were split from their application."""

    def __init__(self, keys: Sequence[Hashable], degrees: float, zoom: float, prob: float) -> None:
        mt.RandomizableTransform.__init__(self, prob=1.0)
        mt.MapTransform.__init__(self, keys)
        self.degrees, self.zoom, self.p = degrees, zoom, prob

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        rotate = self.degrees > 0 and self.R.rand() < self.p
        angle = math.radians(self.R.uniform(-self.degrees, self.degrees)) if rotate else 0.0
        scale = self.R.uniform(1 - self.zoom, 1 + self.zoom) if (self.zoom > 0 and self.R.rand() < self.p) else 1.0
        if angle == 0.0 and scale == 1.0:
            return d
        c, s = math.cos(angle) / scale, math.sin(angle) / scale
        x = torch.as_tensor(d["image"], dtype=torch.float32)
        h, w = x.shape[-2:]
        gy, gx = torch.meshgrid((torch.arange(h, dtype=torch.float32) * 2 + 1) / h - 1,
                                (torch.arange(w, dtype=torch.float32) * 2 + 1) / w - 1, indexing="ij")
        grid = torch.stack((c * gx - s * gy, s * gx + c * gy), dim=-1)[None]
        d["image"] = F.grid_sample(x[None], grid, mode="bilinear", padding_mode="zeros", align_corners=False)[0]
        return d


def old_chain(p: AugmentParams) -> list[mt.Transform]:
    keys, chain = ["image"], []
    if p.flip_horizontal > 0:
        chain.append(mt.RandFlipd(keys, prob=p.flip_horizontal, spatial_axis=1))
    if p.flip_vertical > 0:
        chain.append(mt.RandFlipd(keys, prob=p.flip_vertical, spatial_axis=0))
    if (p.rotate_degrees > 0 or p.zoom > 0) and p.probability > 0:
        chain.append(OldRotateZoomd(keys, p.rotate_degrees, p.zoom, p.probability))
    if p.intensity > 0 and p.probability > 0:
        chain.append(mt.RandScaleIntensityd(keys, factors=p.intensity, prob=p.probability))
        chain.append(mt.RandShiftIntensityd(keys, offsets=p.intensity, prob=p.probability))
    return [*chain, mt.EnsureTyped(keys, dtype="float32", track_meta=False)]


def seeded(chain: list[mt.Transform]) -> tuple[mt.Compose, np.random.RandomState]:
    """The chain with one random state shared by its transforms (as the data sets reseed it per item)."""
    composed, rs = mt.Compose(chain), np.random.RandomState(0)  # Compose gives each its own state first
    for t in composed.transforms:
        if isinstance(t, mt.Randomizable):
            t.set_random_state(state=rs)
    return composed, rs


@pytest.mark.parametrize("setting", SETTINGS)
def test_per_item_and_batched_equal_the_monai_chain(setting):
    p = AugmentParams(**setting)
    (old, r0), (item, r1), (draw, r2) = (seeded(old_chain(p)), seeded(tf.augmentation(p)),
                                          seeded(tf.augmentation(p, defer=True)))
    x = torch.rand(1, 19, 23, generator=torch.Generator().manual_seed(1))
    want, got, draws = [], [], []
    for i in range(120):
        for r in (r0, r1, r2):
            r.seed(i)
        want.append(old({"image": x})["image"])
        got.append(item({"image": x})["image"])
        draws.append(draw({"image": x})[AUGMENT_KEY])
    assert all(torch.equal(a, b) for a, b in zip(want, got))
    assert torch.equal(apply(x[None].repeat(120, 1, 1, 1), torch.stack(draws)), torch.stack(want))
    assert not all(torch.equal(want[0], w) for w in want[1:])  # the draws differ between images


def test_a_deferred_data_set_gives_the_per_item_images_after_apply(ctx):
    dm = phantom(ctx, 7)
    dm.set_epoch(3)
    per_item = torch.cat([b["image"] for b in DataLoader(dm.dataset("train"), batch_size=5)])
    deferred = [apply(b["image"], b[AUGMENT_KEY]) for b in DataLoader(dm.dataset("train", defer_augmentation=True),
                                                                     batch_size=5)]
    assert torch.equal(torch.cat(deferred), per_item)
    plain = dm.dataset("train", train_transforms=False)
    assert not torch.equal(per_item, torch.stack([plain[i]["image"] for i in range(len(plain))]))


def test_apply_leaves_untouched_images_bit_for_bit():
    x = torch.rand(3, 1, 8, 8)
    draws = torch.tensor([[0, 0, 0, 1, 1, 0], [1, 0, 0, 1, 1, 0], [0, 0, 0.3, 1, 1.1, 0.05]], dtype=torch.float64)
    out = apply(x, draws)
    assert torch.equal(out[0], x[0]) and torch.equal(out[1], x[1].flip(-1))
    assert not torch.allclose(out[2], x[2])


def test_a_deferred_data_set_is_normalized_on_the_device_after_its_augmentation(ctx):
    """data.normalize is the chain's last step: a deferred chain leaves it to ``normalize_batch``, after apply."""
    params = phantom(ctx, 7).params.model_copy(update={"normalize": "imagenet"})
    dm = type(phantom(ctx, 7))(params, ctx(seed=7))
    dm.set_epoch(2)
    per_item = torch.cat([b["image"] for b in DataLoader(dm.dataset("train"), batch_size=5)])
    batches = DataLoader(dm.dataset("train", defer_augmentation=True), batch_size=5)
    deferred = torch.cat([tf.normalize_batch(apply(b["image"], b[AUGMENT_KEY]), "imagenet") for b in batches])
    torch.testing.assert_close(deferred, per_item, rtol=0, atol=1e-5)
    # the control: normalizing before the augmentation (rotations would pad with 0 in normalized units) differs
    wrong = torch.cat([apply(tf.normalize_batch(b["image"], "imagenet"), b[AUGMENT_KEY]) for b in batches])
    assert (wrong - per_item).abs().max() > 0.1
    assert float(per_item.mean()) < 0.2  # normalized: ImageNet statistics move [0, 1] pixels below zero


def test_disk_cache_keys_say_whether_the_cached_image_is_normalized(ctx):
    from sharpreg.data.diskcache import image_keys

    dm = phantom(ctx, 1)
    dm.setup()
    items = dm.items_of("train")
    plain, normalized = image_keys(dm, items), image_keys(dm, items, normalized=True)
    assert len(set(plain)) == len(items) and not set(plain) & set(normalized)
    _, cached_normalized = tf.full_chain([], None, "imagenet", 1)
    _, augmented = tf.full_chain([], dm.params.augment, "imagenet", 1)
    assert cached_normalized and not augmented  # a chain with augmentation caches before normalizing
    assert not tf.full_chain([], None, "none", 1)[1]
