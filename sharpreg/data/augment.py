"""Training augmentation in two halves: :func:`draw` picks one image's random flips, rotation, zoom and
intensity scale and shift from that image's own random state; :func:`apply` applies the draws of a batch
of any size, on any device, in a few tensor operations.

Per item (``RandAugmentd``) the two halves run together in a data-loader worker. On a GPU the worker only
draws (``defer=True``: the draws ride along in the batch under ``"augment"``) and the batch is augmented
on the device after the transfer: the same draws from the same per-image seeds, so the same images.

The draws follow, number for number, the MONAI chain used before (RandFlipd, RandFlipd, a rotation and
zoom, RandScaleIntensityd, RandShiftIntensityd), so runs keep their results (tests/data check it).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from monai import transforms as mt

from ..specs import AugmentParams

AUGMENT_KEY = "augment"
#: the columns of one image's draws
DRAWS = ("flip_horizontal", "flip_vertical", "angle", "zoom", "scale", "shift")


def enabled(params: AugmentParams) -> bool:
    """Whether the recipe asks for any augmentation at all."""
    p = params.probability
    return (params.flip_horizontal > 0 or params.flip_vertical > 0
            or ((params.rotate_degrees > 0 or params.zoom > 0) and p > 0) or (params.intensity > 0 and p > 0))


def draw(params: AugmentParams, rs: np.random.RandomState) -> np.ndarray:
    """One image's draws (float64, in the order of :data:`DRAWS`): flips as 0/1, the angle in radians,
    the zoom factor (> 1 zooms in), the intensity factor and the intensity offset."""
    p, out = params.probability, np.array([0.0, 0.0, 0.0, 1.0, 1.0, 0.0])
    if params.flip_horizontal > 0:
        out[0] = rs.rand() < params.flip_horizontal
    if params.flip_vertical > 0:
        out[1] = rs.rand() < params.flip_vertical
    if (params.rotate_degrees > 0 or params.zoom > 0) and p > 0:
        if params.rotate_degrees > 0 and rs.rand() < p:
            out[2] = math.radians(rs.uniform(-params.rotate_degrees, params.rotate_degrees))
        if params.zoom > 0 and rs.rand() < p:
            out[3] = rs.uniform(1 - params.zoom, 1 + params.zoom)
    if params.intensity > 0 and p > 0:
        for column in (4, 5):  # MONAI's dictionary transform draws its own flag, then its inner one's
            if rs.rand() < p:
                rs.rand()
                value = rs.uniform(-params.intensity, params.intensity)
                out[column] = 1 + value if column == 4 else value
    return out


def apply(x: torch.Tensor, draws: torch.Tensor) -> torch.Tensor:
    """Augment a batch ``x`` (B×C×H×W, float32, any device) by its draws (B×6, from :func:`draw`).

    Images a draw leaves alone come back bit for bit; the size is kept (zero padding)."""
    d = draws.detach().to("cpu", torch.float64)
    dev = x.device
    for column, dim in ((0, -1), (1, -2)):
        flip = d[:, column] > 0.5
        if bool(flip.any()):
            x = torch.where(flip.to(dev)[:, None, None, None], x.flip(dim), x)
    turn = ((d[:, 2] != 0) | (d[:, 3] != 1)).nonzero().flatten()
    if len(turn):
        # per image as in one resampling of each: cos and sin in double precision, then float32
        cs = torch.tensor([[math.cos(a) / z, math.sin(a) / z] for a, z in d[turn][:, 2:4].tolist()], dtype=torch.float32)
        c, s = cs[:, 0, None, None].to(dev), cs[:, 1, None, None].to(dev)
        gx, gy = _base_grid(x.shape[-2], x.shape[-1], dev)
        grid = torch.stack((c * gx - s * gy, s * gx + c * gy), dim=-1)
        idx = turn.to(dev)
        turned = F.grid_sample(x.index_select(0, idx), grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        x = x.index_copy(0, idx, turned)
    if bool((d[:, 4] != 1).any()):
        x = x * d[:, 4].to(torch.float32)[:, None, None, None].to(dev)
    if bool((d[:, 5] != 0).any()):
        x = x + d[:, 5].to(torch.float32)[:, None, None, None].to(dev)
    return x


@functools.lru_cache(maxsize=8)
def _base_grid(h: int, w: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalized pixel-centre coordinates (x, y), each H×W, as ``align_corners=False`` expects."""
    ys = (torch.arange(h, dtype=torch.float32) * 2 + 1) / h - 1
    xs = (torch.arange(w, dtype=torch.float32) * 2 + 1) / w - 1
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return gx.to(device), gy.to(device)


class RandAugmentd(mt.RandomizableTransform, mt.MapTransform):
    """The recipe's augmentation of one item: draw, then apply (or, with ``defer``, only draw and leave
    the draws under ``"augment"`` for :func:`apply` on the batch)."""

    def __init__(self, keys: Sequence[Hashable], params: AugmentParams, *, defer: bool = False) -> None:
        mt.RandomizableTransform.__init__(self, prob=1.0)
        mt.MapTransform.__init__(self, keys)
        self.params, self.defer = params, defer

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        draws = torch.from_numpy(draw(self.params, self.R))
        if self.defer:
            d[AUGMENT_KEY] = draws
            return d
        for key in self.key_iterator(d):
            d[key] = apply(torch.as_tensor(d[key], dtype=torch.float32)[None], draws[None])[0]
        return d


def augment_batch(images: torch.Tensor, batch: Mapping[str, Any]) -> torch.Tensor:
    """Apply the draws a deferred data set put in ``batch`` (under ``"augment"``) to ``images``, on their device."""
    draws = batch.get(AUGMENT_KEY)
    return images if draws is None else apply(images, draws)
