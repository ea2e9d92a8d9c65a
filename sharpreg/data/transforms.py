"""MONAI transform chains: deterministic preprocessing (cached) followed by training augmentation."""

from __future__ import annotations

import torch
from monai import transforms as mt

from ..specs import AugmentParams
from .augment import RandAugmentd, enabled

KEYS = ["image"]


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


def augmentation(params: AugmentParams, *, defer: bool = False) -> list[mt.Transform]:
    """Random training transforms chosen in the recipe (empty when everything is off). With ``defer``
    each item only draws its transforms; :func:`sharpreg.data.augment.apply` applies them to the batch."""
    if not enabled(params):
        return []
    chain: list[mt.Transform] = [RandAugmentd(KEYS, params, defer=defer)]
    if not defer:
        chain.append(mt.EnsureTyped(KEYS, dtype="float32", track_meta=False))
    return chain


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
