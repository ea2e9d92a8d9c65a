"""MONAI transform chains: deterministic preprocessing (cached), training augmentation, normalization."""

from __future__ import annotations

import functools

import torch
from monai import transforms as mt

from ..specs import AugmentParams
from .augment import RandAugmentd, enabled

KEYS = ["image"]
#: ImageNet's per-channel mean and standard deviation of [0, 1] pixels (torchvision's and timm's defaults)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def preprocess(image_size: int, channels: int, intensity: list[mt.Transform] | None = None) -> list[mt.Transform]:
    """After decoding (image C×H×W): channel count, intensity (by default each image stretched to
    [0, 1]; a data set may map a fixed range instead), square resize, float32."""
    chain: list[mt.Transform] = [
        mt.EnsureTyped(KEYS, data_type="tensor", dtype="float32", track_meta=False),
        mt.Lambdad(KEYS, lambda x: _match_channels(x, channels)),
    ]
    chain += [
        *(intensity if intensity is not None else [mt.ScaleIntensityd(KEYS, minv=0.0, maxv=1.0)]),
        mt.Resized(KEYS, spatial_size=(image_size, image_size), mode="area"),
        mt.EnsureTyped(KEYS, dtype="float32", track_meta=False),
    ]
    return chain


def normalization(kind: str, channels: int) -> list[mt.Transform]:
    """The last step of every chain (after augmentation, so rotations still pad with black): ``"imagenet"``
    standardizes each channel with ImageNet's statistics, as networks pretrained on ImageNet expect; one
    channel gets the mean of the three channels' statistics (timm sums a pretrained first convolution's
    RGB kernels for greyscale input, so this keeps its input scale). ``"none"``: pixels stay in [0, 1]."""
    if kind == "none":
        return []
    mean, std = normalization_stats(kind, channels)
    return [mt.NormalizeIntensityd(KEYS, subtrahend=mean, divisor=std, channel_wise=True),
            mt.EnsureTyped(KEYS, dtype="float32", track_meta=False)]


def normalization_stats(kind: str, channels: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel (mean, std) of a ``data.normalize`` other than ``"none"``."""
    if kind != "imagenet":
        raise ValueError(f"unknown normalization {kind!r}")
    return (IMAGENET_MEAN, IMAGENET_STD) if channels == 3 else ((sum(IMAGENET_MEAN) / 3,), (sum(IMAGENET_STD) / 3,))


def normalize_batch(x: torch.Tensor, kind: str) -> torch.Tensor:
    """:func:`normalization` of a batch B×C×H×W on its device (a deferred chain's last step)."""
    if kind == "none":
        return x
    mean, std = _stats_on(kind, x.shape[1], x.dtype, x.device)
    return (x - mean) / std


@functools.lru_cache(maxsize=8)
def _stats_on(kind: str, channels: int, dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The statistics as 1×C×1×1 tensors on ``device``, made once (not one host transfer per batch)."""
    mean, std = normalization_stats(kind, channels)
    shape = (1, channels, 1, 1)
    return (torch.tensor(mean, dtype=dtype, device=device).view(shape),
            torch.tensor(std, dtype=dtype, device=device).view(shape))


def augmentation(params: AugmentParams, *, defer: bool = False) -> list[mt.Transform]:
    """Random training transforms chosen in the recipe (empty when everything is off). With ``defer``
    each item only draws its transforms; :func:`sharpreg.data.augment.apply` applies them to the batch."""
    if not enabled(params):
        return []
    chain: list[mt.Transform] = [RandAugmentd(KEYS, params, defer=defer)]
    if not defer:
        chain.append(mt.EnsureTyped(KEYS, dtype="float32", track_meta=False))
    return chain


def full_chain(pre: list[mt.Transform], augment: AugmentParams | None, normalize: str, channels: int, *,
               defer: bool = False) -> tuple[mt.Compose, bool]:
    """Preprocessing, augmentation (``None``: none) and normalization, and whether what a cache keeps (the
    chain up to its first random transform) is normalized. ``defer``: the device augments the batch and
    then normalizes it (:func:`normalize_batch`), so the chain does neither."""
    aug = augmentation(augment, defer=defer) if augment is not None else []
    norm = [] if defer else normalization(normalize, channels)
    return mt.Compose([*pre, *aug, *norm]), bool(norm and not aug)


def _match_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    """Greyscale (mean of RGB, alpha dropped) or RGB (grey repeated) as asked."""
    if x.ndim == 2:
        x = x.unsqueeze(0)
    if x.shape[0] == 4:
        x = x[:3]
    if channels == 1 and x.shape[0] == 3:
        return x.mean(dim=0, keepdim=True)
    if channels == 3 and x.shape[0] == 1:
        return x.repeat(3, 1, 1)
    return x
