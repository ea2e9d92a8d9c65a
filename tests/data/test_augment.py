"""Training augmentation: deterministic under a seed and per epoch; rotation checked by hand."""

from __future__ import annotations

import math

import pytest
import torch

from sharpreg.data.augment import apply
from sharpreg_plugins.datasets.phantom import PhantomData, PhantomParams


def images(dm: PhantomData, epoch: int) -> torch.Tensor:
    dm.set_epoch(epoch)
    ds = dm.dataset("train")
    return torch.stack([ds[i]["image"] for i in range(len(ds))])


def phantom(ctx, seed: int, **augment) -> PhantomData:
    aug = {"flip_horizontal": 0.5, "flip_vertical": 0.5, "rotate_degrees": 20.0, "zoom": 0.2,
           "intensity": 0.2, "probability": 0.8, **augment}
    return PhantomData(PhantomParams(per_class=6, native_size=32, image_size=24, augment=aug,
                                     split={"val": 0.0, "test": 0.0}), ctx(seed=seed))


def test_augmentation_is_deterministic_under_a_seed(ctx):
    a, b = phantom(ctx, 3), phantom(ctx, 3)
    e0, e1 = images(a, 0), images(a, 1)
    assert torch.equal(e0, images(b, 0)) and torch.equal(e1, images(b, 1))
    assert not torch.equal(e0, e1)  # a new epoch draws new transforms
    assert torch.equal(images(a, 0), e0)  # replaying an epoch (resume) repeats it
    assert not torch.equal(images(phantom(ctx, 4), 0), e0)  # another seed differs


def test_evaluation_splits_are_not_augmented(ctx):
    dm = phantom(ctx, 0)
    plain = dm.dataset("train", train_transforms=False)
    again = phantom(ctx, 1).dataset("train", train_transforms=False)
    assert torch.equal(torch.stack([plain[i]["image"] for i in range(len(plain))]),
                       torch.stack([again[i]["image"] for i in range(len(again))]))


def turned(x: torch.Tensor, degrees: float, zoom: float) -> torch.Tensor:
    draws = torch.tensor([[0.0, 0.0, math.radians(degrees), zoom, 1.0, 0.0]], dtype=torch.float64)
    return apply(x[None], draws)[0]


def test_quarter_turn_equals_rot90_and_identity_is_exact():
    x = torch.arange(36, dtype=torch.float32).reshape(1, 6, 6)
    quarter = turned(x, 90.0, 1.0)
    assert torch.allclose(quarter, torch.rot90(x, k=1, dims=(1, 2)), atol=1e-5) or torch.allclose(
        quarter, torch.rot90(x, k=-1, dims=(1, 2)), atol=1e-5)
    assert torch.equal(turned(x, 0.0, 1.0), x)


def test_zoom_in_by_two_magnifies_the_centre():
    x = torch.zeros(1, 8, 8)
    x[0, 3:5, 3:5] = 1.0  # a 2x2 centre square
    z = turned(x, 0.0, 2.0)
    assert z[0, 2:6, 2:6].min() > 0.2 and z[0, 0, 0] == 0  # the square now covers the central 4x4
    assert float(z.sum()) == pytest.approx(4 * float(x.sum()), rel=0.3)


def test_augmentation_depends_only_on_seed_epoch_and_item(ctx):
    """Reading items in another order (shuffling, worker processes) gives the same images."""
    dm = phantom(ctx, 5)
    dm.set_epoch(2)
    ds = dm.dataset("train")
    forward = [ds[i]["image"] for i in range(len(ds))]
    backward = [ds[i]["image"] for i in reversed(range(len(ds)))][::-1]
    assert all(torch.equal(a, b) for a, b in zip(forward, backward))
    assert not all(torch.equal(forward[0], f) for f in forward[1:])  # items differ from each other


def test_augmentation_is_the_same_with_worker_processes(ctx):
    from torch.utils.data import DataLoader

    dm = phantom(ctx, 6)
    dm.set_epoch(1)
    ds = dm.dataset("train")
    alone = torch.cat([b["image"] for b in DataLoader(ds, batch_size=4)])
    workers = torch.cat([b["image"] for b in DataLoader(ds, batch_size=4, num_workers=2)])
    assert torch.equal(alone, workers)


@pytest.mark.parametrize("channels", [1, 3])
def test_imagenet_normalization_standardizes_each_channel_after_augmentation(ctx, channels):
    from sharpreg.data.transforms import IMAGENET_MEAN, IMAGENET_STD

    def batch(normalize: str) -> torch.Tensor:
        dm = PhantomData(PhantomParams(per_class=4, native_size=32, image_size=24, channels=channels,
                                       normalize=normalize, split={"val": 0.0, "test": 0.0}), ctx(seed=2))
        return images(dm, 0)  # augmented: the same draws in both data modules

    plain, normed = batch("none"), batch("imagenet")
    mean = torch.tensor(IMAGENET_MEAN if channels == 3 else [sum(IMAGENET_MEAN) / 3]).view(1, -1, 1, 1)
    std = torch.tensor(IMAGENET_STD if channels == 3 else [sum(IMAGENET_STD) / 3]).view(1, -1, 1, 1)
    assert (normed - plain).abs().max() > 0.1  # the option changes the pixels (intensity augmentation may leave [0, 1])
    assert torch.allclose(normed, (plain - mean) / std, atol=1e-5)
    assert normed.dtype == torch.float32 and normed.shape[1] == channels
