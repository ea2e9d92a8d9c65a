"""MONAI transform chains: deterministic preprocessing (cached) followed by training augmentation."""

from __future__ import annotations

import functools
import math

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from monai import transforms as mt

from ..specs import AugmentParams

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
    if kind != "imagenet":
        raise ValueError(f"unknown normalization {kind!r}")
    mean, std = (IMAGENET_MEAN, IMAGENET_STD) if channels == 3 else ((sum(IMAGENET_MEAN) / 3,), (sum(IMAGENET_STD) / 3,))
    return [mt.NormalizeIntensityd(KEYS, subtrahend=mean, divisor=std, channel_wise=True),
            mt.EnsureTyped(KEYS, dtype="float32", track_meta=False)]


def augmentation(params: AugmentParams) -> list[mt.Transform]:
    """Random training transforms chosen in the recipe (empty when everything is off)."""
    p = params.probability
    chain: list[mt.Transform] = []
    if params.flip_horizontal > 0:
        chain.append(mt.RandFlipd(KEYS, prob=params.flip_horizontal, spatial_axis=1))
    if params.flip_vertical > 0:
        chain.append(mt.RandFlipd(KEYS, prob=params.flip_vertical, spatial_axis=0))
    if (params.rotate_degrees > 0 or params.zoom > 0) and p > 0:
        chain.append(RandRotateZoomd(KEYS, degrees=params.rotate_degrees, zoom=params.zoom, prob=p))
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


class RandRotateZoomd(mt.RandomizableTransform, mt.MapTransform):
    """Random rotation (uniform in +-``degrees``) and zoom (uniform in 1 +- ``zoom``, > 1 zooms in),
    each applied with probability ``prob``, as one bilinear resampling with zero padding; the size
    is kept. One ``grid_sample`` call: MONAI's RandRotated/RandZoomd cost 10-30x more per image."""

    def __init__(self, keys: Sequence[Hashable], degrees: float, zoom: float, prob: float) -> None:
        mt.RandomizableTransform.__init__(self, prob=1.0)
        mt.MapTransform.__init__(self, keys)
        self.degrees, self.zoom, self.p = degrees, zoom, prob
        self._angle, self._scale = 0.0, 1.0

    def randomize(self, data: Any = None) -> None:
        rotate = self.degrees > 0 and self.R.rand() < self.p
        angle = self.R.uniform(-self.degrees, self.degrees) if rotate else 0.0
        scale = self.R.uniform(1 - self.zoom, 1 + self.zoom) if (self.zoom > 0 and self.R.rand() < self.p) else 1.0
        self._angle, self._scale = math.radians(angle), scale

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        self.randomize()
        if self._angle == 0.0 and self._scale == 1.0:
            return d
        c, s = math.cos(self._angle) / self._scale, math.sin(self._angle) / self._scale
        for key in self.key_iterator(d):
            x = torch.as_tensor(d[key], dtype=torch.float32)
            gx, gy = _base_grid(x.shape[-2], x.shape[-1])
            # elementwise (not F.affine_grid, whose threading costs ~4 ms per small image on a busy CPU)
            grid = torch.stack((c * gx - s * gy, s * gx + c * gy), dim=-1)[None]
            d[key] = F.grid_sample(x[None], grid, mode="bilinear", padding_mode="zeros", align_corners=False)[0]
        return d


@functools.lru_cache(maxsize=8)
def _base_grid(h: int, w: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalized pixel-centre coordinates (x, y), each H×W, as ``align_corners=False`` expects."""
    ys = (torch.arange(h, dtype=torch.float32) * 2 + 1) / h - 1
    xs = (torch.arange(w, dtype=torch.float32) * 2 + 1) / w - 1
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return gx, gy
