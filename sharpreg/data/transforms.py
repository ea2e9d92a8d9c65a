"""MONAI transform chains: deterministic preprocessing (cached) followed by training augmentation."""

from __future__ import annotations

import math

import torch

from monai import transforms as mt

from ..specs import AugmentParams

KEYS = ["image"]


def preprocess(image_size: int, channels: int) -> list[mt.Transform]:
    """After decoding (image C×H×W): channel count, intensity to [0, 1], square resize, float32."""
    chain: list[mt.Transform] = [
        mt.EnsureTyped(KEYS, data_type="tensor", dtype="float32", track_meta=False),
        mt.Lambdad(KEYS, lambda x: _match_channels(x, channels)),
    ]
    chain += [
        mt.ScaleIntensityd(KEYS, minv=0.0, maxv=1.0),
        mt.Resized(KEYS, spatial_size=(image_size, image_size), mode="area"),
        mt.EnsureTyped(KEYS, dtype="float32", track_meta=False),
    ]
    return chain


def augmentation(params: AugmentParams) -> list[mt.Transform]:
    """Random training transforms chosen in the recipe (empty when everything is off)."""
    p = params.probability
    chain: list[mt.Transform] = []
    if params.flip_horizontal > 0:
        chain.append(mt.RandFlipd(KEYS, prob=params.flip_horizontal, spatial_axis=1))
    if params.flip_vertical > 0:
        chain.append(mt.RandFlipd(KEYS, prob=params.flip_vertical, spatial_axis=0))
    if params.rotate_degrees > 0 and p > 0:
        r = math.radians(params.rotate_degrees)
        chain.append(mt.RandRotated(KEYS, range_x=r, prob=p, padding_mode="zeros", keep_size=True))
    if params.zoom > 0 and p > 0:
        chain.append(mt.RandZoomd(KEYS, min_zoom=1 - params.zoom, max_zoom=1 + params.zoom, prob=p, keep_size=True))
    if params.intensity > 0 and p > 0:
        chain.append(mt.RandScaleIntensityd(KEYS, factors=params.intensity, prob=p))
        chain.append(mt.RandShiftIntensityd(KEYS, offsets=params.intensity, prob=p))
    if chain:
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
