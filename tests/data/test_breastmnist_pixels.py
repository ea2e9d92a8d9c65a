"""BreastMNIST pixels as MedMNIST v2 feeds them: 28 px unresampled, x / 127.5 - 1 (ToTensor + Normalize(.5, .5))."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sharpreg.errors import DataError
from sharpreg_plugins.datasets.breastmnist import BreastMnistData, BreastMnistParams

from .conftest import file_order

SIZES = {"train": 6, "val": 2, "test": 4}


def write_npz(folder: Path, dtype: type = np.uint8) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    arrays: dict[str, np.ndarray] = {}
    for split, n in SIZES.items():
        images = rng.integers(0, 256, (n, 28, 28)).astype(dtype)
        images[:, 0, 0], images[:, 0, 1] = 3, 250  # not the full 0-255 range: min-max would stretch it
        arrays[f"{split}_images"], arrays[f"{split}_labels"] = images, (np.arange(n) % 2).reshape(-1, 1)
    np.savez(folder / "breastmnist.npz", **arrays)
    return arrays


def served(dm: BreastMnistData, split: str) -> torch.Tensor:
    """A split's images as the network sees them, in the order of the .npz file."""
    ds = dm.dataset(split, train_transforms=False)
    return torch.stack([ds[i]["image"] for i in file_order(ds)])


def test_default_pixels_are_medmnists_normalisation_at_native_size(tmp_path, ctx):
    arrays = write_npz(tmp_path)
    dm = BreastMnistData(BreastMnistParams(root=tmp_path), ctx())
    for split in SIZES:
        x = served(dm, split)
        expected = (torch.from_numpy(arrays[f"{split}_images"]).float() / 255 - 0.5) / 0.5
        assert x.shape == (SIZES[split], 1, 28, 28) and x.dtype == torch.float32
        torch.testing.assert_close(x[:, 0], expected, rtol=0, atol=1e-6)


def test_minmax_stretches_each_image(tmp_path, ctx):
    arrays = write_npz(tmp_path)
    x = served(BreastMnistData(BreastMnistParams(root=tmp_path, intensity="minmax"), ctx()), "val")
    raw = torch.from_numpy(arrays["val_images"]).float()
    lo, hi = raw.amin(dim=(1, 2), keepdim=True), raw.amax(dim=(1, 2), keepdim=True)
    torch.testing.assert_close(x[:, 0], (raw - lo) / (hi - lo), rtol=0, atol=1e-6)


def test_medmnist_intensity_refuses_non_uint8_pixels(tmp_path, ctx):
    write_npz(tmp_path, dtype=np.float32)
    with pytest.raises(DataError, match=r"float32 pixels; data.intensity = 'medmnist' expects .* uint8"):
        BreastMnistData(BreastMnistParams(root=tmp_path), ctx()).setup()
    BreastMnistData(BreastMnistParams(root=tmp_path, intensity="minmax"), ctx()).setup()
