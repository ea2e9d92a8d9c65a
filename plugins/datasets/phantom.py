"""``phantom``: deterministic synthetic breast-ultrasound-like images, generated on the fly.

Each image is speckle over a layered tissue background. Benign lesions are smooth, oval and wider
than tall, with posterior enhancement; malignant ones are irregular (spiculated) and taller than
wide, with posterior acoustic shadowing; ``normal`` images have no lesion. Image ``i`` depends only on
``(generator_seed, i)``, so the data set is the same on every machine.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from monai import transforms as mt
from pydantic import Field

from sharpreg import hookimpl
from sharpreg.data.images import ImageDataModule
from sharpreg.data.module import Item
from sharpreg.data.params import DistinctClasses
from sharpreg.specs import MAX_SEED, DataParams, DatasetSpec

PhantomClass = Literal["benign", "malignant", "normal"]


class PhantomParams(DataParams):
    classes: Annotated[list[PhantomClass], DistinctClasses] = Field(
        ["benign", "malignant"], min_length=2, description="Classes to generate, in label order."
    )
    per_class: int = Field(64, ge=4, le=100_000, description="Images generated per class.")
    native_size: int = Field(96, ge=16, le=1024, description="Size the images are drawn at before resizing.")
    noise: float = Field(0.35, ge=0.0, le=2.0, description="Speckle strength (higher is harder).")
    generator_seed: int = Field(0, ge=0, le=MAX_SEED, description="Seed of the image generator (independent of train.seed).")
    image_size: int = Field(64, ge=8, le=4096, description="Images are resized to this square size.")


def render(kind: str, index: int, size: int, noise: float, seed: int) -> np.ndarray:
    """One H×W float32 image in [0, 1] (deterministic in its arguments)."""
    rng = np.random.default_rng([seed, index, {"benign": 1, "malignant": 2, "normal": 3}[kind]])
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    # layered tissue: skin line, subcutaneous fat, glandular tissue, darker chest wall
    depth = yy + 0.03 * np.sin(2 * np.pi * (xx * rng.uniform(1, 3) + rng.uniform()))
    tissue = 0.55 + 0.25 * np.exp(-((depth - 0.08) / 0.03) ** 2) - 0.25 * np.clip(depth - 0.8, 0, 1) * 4
    tissue += 0.08 * np.sin(2 * np.pi * (depth * rng.uniform(4, 8) + rng.uniform()))
    image = tissue.copy()
    if kind != "normal":
        cy, cx = rng.uniform(0.4, 0.6), rng.uniform(0.35, 0.65)
        angle = np.arctan2(yy - cy, xx - cx)
        if kind == "benign":  # oval, wider than tall, smooth margin
            ry, rx = rng.uniform(0.08, 0.13), rng.uniform(0.14, 0.22)
            rough = 1 + 0.04 * np.sin(2 * angle + rng.uniform(0, 6.3))
            edge = 0.015
        else:  # irregular, taller than wide, spiculated margin
            ry, rx = rng.uniform(0.12, 0.18), rng.uniform(0.09, 0.14)
            k = rng.integers(5, 11)
            rough = 1 + 0.22 * np.abs(np.sin(k * angle / 2 + rng.uniform(0, 6.3))) ** 3 + 0.08 * np.sin(3 * angle)
            edge = 0.004
        r = np.sqrt(((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2) / rough
        inside = 1 / (1 + np.exp((r - 1) / edge * 0.05))
        image = image * (1 - 0.75 * inside) + 0.08 * inside
        below = (yy > cy) & (np.abs(xx - cx) < rx * 0.9)
        fade = np.clip((yy - cy) / 0.4, 0, 1)
        factor = 1.25 if kind == "benign" else 0.45  # posterior enhancement vs shadowing
        image = np.where(below & (r > 1), image * (1 + (factor - 1) * (1 - fade)), image)
    speckle = rng.rayleigh(scale=1.0, size=(size, size)).astype(np.float32) / 1.2533
    image = image * (1 + noise * (speckle - 1))
    return np.clip(image, 0, 1.5).astype(np.float32) / 1.5


class PhantomData(ImageDataModule):
    params: PhantomParams
    probe_images = False  # generated images: no files to check, no duplicates
    data_name = "phantom"

    def scan(self) -> tuple[list[Item], list[str]]:
        p = self.params
        items = [
            Item(id=f"{kind}-{i:05d}", label=label, source=(kind, i))
            for label, kind in enumerate(p.classes)
            for i in range(p.per_class)
        ]
        return items, list(p.classes)

    def load_transforms(self) -> list[mt.Transform]:
        p = self.params

        def draw(source: tuple[str, int]) -> np.ndarray:
            kind, i = source
            return render(kind, i, p.native_size, p.noise, p.generator_seed)[None]

        return [mt.Lambdad(["image"], draw)]



@hookimpl
def sharpreg_datasets() -> list[DatasetSpec]:
    return [
        DatasetSpec(
            name="phantom",
            params=PhantomParams,
            factory=PhantomData,
            summary="Synthetic breast-ultrasound-like images (benign oval vs malignant irregular lesions); "
            "the built-in default that needs no files.",
            citation="sharpreg (synthetic)",
        )
    ]
