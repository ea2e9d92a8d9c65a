"""The data-set contract: what a dataset plugin's factory returns, and a base that does the common work.

A subclass of :class:`ImageDataModule` lists its images as :class:`Item` records (``scan``) and says
how one is decoded (``load_transforms``); the base splits them (stratified / k-fold / predefined,
by group), builds MONAI pipelines (resize, intensity scaling, augmentation for training) and caches
decoded images so later epochs do not decode again. Batches are dicts ``{"image": B×C×H×W float,
"label": B long}``.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from torch.utils.data import Dataset

from ..specs import DataParams

Split = Literal["train", "val", "test"]
SPLITS: tuple[Split, ...] = ("train", "val", "test")
DATA_ENV = "SHARPREG_DATA"


@dataclass(frozen=True)
class DataContext:
    """What the core tells a data set besides its parameters."""

    seed: int = 0
    data_home: Path | None = None
    """``$SHARPREG_DATA``: the folder holding one sub-folder per data set"""
    base_dir: Path = Path(".")
    """folder of the recipe that named this data set (relative ``root`` paths start here)"""

    @classmethod
    def from_env(cls, seed: int = 0, base_dir: Path | None = None) -> DataContext:
        home = os.environ.get(DATA_ENV)
        return cls(seed=seed, data_home=Path(home) if home else None, base_dir=base_dir or Path("."))

    def default_root(self, name: str) -> Path | None:
        return self.data_home / name if self.data_home else None


@dataclass
class Item:
    """One image: ``source`` is a path, or an array already in memory (C×H×W or H×W)."""

    id: str
    label: int
    source: Any
    group: str | None = None
    """images with the same group never straddle splits (patient, duplicate group)"""
    split: Split | None = None
    """a predefined split, where the data set has one"""
    fold: int | None = None
    """a predefined fold, where the data set has one"""
    extra: dict[str, Any] = field(default_factory=dict)


class DataModule(ABC):
    """What every dataset factory returns."""

    params: DataParams
    class_names: list[str]

    @property
    def in_chans(self) -> int:
        return int(self.params.channels)

    @property
    def image_size(self) -> int:
        return int(self.params.image_size)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @abstractmethod
    def setup(self) -> None:
        """Scan and split (idempotent). Raise ``DataError`` with a clear message on bad data."""

    @abstractmethod
    def dataset(self, split: Split, *, train_transforms: bool | None = None) -> Dataset:
        """The torch data set of one split (augmented for ``train`` unless told otherwise)."""

    @property
    def fingerprint(self) -> str | None:
        """``sha256:…`` over the (content hash, class) pairs of the images used (after setup); None where the
        data set cannot tell."""
        return None

    @abstractmethod
    def split_record(self) -> dict[str, Any]:
        """JSON-serializable record of the split (written as ``split.json``)."""

    def summary(self, *, images: bool = False) -> dict[str, Any]:
        """Counts per class and split, for ``sharpreg data summary`` (with ``images``, every image's
        name under its split)."""
        rec = self.split_record()
        out = {"classes": self.class_names, "counts": rec.get("counts", {})}
        if images:
            out["images"] = rec.get("splits", {})
        return out

    def labels(self, split: Split) -> np.ndarray:
        """Labels of one split, in data-set order (used for class weights)."""
        raise NotImplementedError
