"""Fixtures for the data tests: generated image trees (BUSI layout, class folders, CSVs) and the real data."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sharpreg.data.module import DataContext


def pattern(seed: int, size: tuple[int, int] = (40, 48)) -> np.ndarray:
    """A distinct smooth grey image (H×W uint8): blobs at random places, so perceptual hashes differ."""
    rng = np.random.default_rng(seed)
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    img = np.zeros(size)
    for _ in range(4):
        cy, cx, r = rng.uniform(0, 1, 3) * [h / max(h, w), w / max(h, w), 0.3] + [0, 0, 0.05]
        img += rng.uniform(-1, 1) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / r**2)
    img = (img - img.min()) / (np.ptp(img) + 1e-9)
    return (img * 255).astype(np.uint8)


def file_order(ds) -> list[int]:
    """Positions in a served data set of an array-backed data set's images (ids ``split[i]``), in the file's
    order: items are served in content order, not in the order of the file."""
    return sorted(range(len(ds)), key=lambda i: int(ds[i]["id"].split("[")[1].rstrip("]")))


def save_png(path: Path, a: np.ndarray, mode: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(a, mode=mode).save(path)
    return path


def busi_tree(root: Path, counts: dict[str, int] | None = None, size: tuple[int, int] = (40, 48)) -> Path:
    """A small BUSI-layout tree: ``<cls>/<cls> (i).png`` with ``<cls> (i)_mask.png``."""
    counts = counts or {"benign": 6, "malignant": 6, "normal": 4}
    seed = 0
    for cls, n in counts.items():
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i in range(1, n + 1):
            seed += 1
            save_png(root / cls / f"{cls} ({i}).png", pattern(seed, size))
            mask = np.zeros(size, np.uint8)
            if cls != "normal":
                mask[10:20, 12:30] = 255
            save_png(root / cls / f"{cls} ({i})_mask.png", mask)
    return root


@pytest.fixture
def ctx(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory,
        monkeypatch: pytest.MonkeyPatch) -> Callable[..., DataContext]:
    """A DataContext whose recipe folder is ``tmp_path``; the probe cache lives outside it."""
    monkeypatch.setenv("SHARPREG_CACHE", str(tmp_path_factory.mktemp("cache")))

    def make(seed: int = 0, data_home: Path | None = None) -> DataContext:
        return DataContext(seed=seed, data_home=data_home, base_dir=tmp_path)

    return make


@pytest.fixture(scope="session")
def real_data() -> Path:
    home = os.environ.get("SHARPREG_DATA")
    if not home:
        pytest.skip("SHARPREG_DATA is not set: the real-data tests need /work/shared/data (see .ci/run)")
    path = Path(home)
    if not path.is_dir():
        pytest.skip(f"SHARPREG_DATA={home} does not exist")
    return path
