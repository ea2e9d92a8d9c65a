"""A base for image data sets: scan items, split them, serve cached MONAI pipelines."""

from __future__ import annotations

from abc import abstractmethod
from collections import Counter
from typing import Any

import numpy as np
from monai import transforms as mt
from monai.data import CacheDataset
from monai.data import Dataset as MonaiDataset
from torch.utils.data import Dataset

from ..errors import DataError
from ..specs import DataParams
from . import transforms as tf
from .module import SPLITS, DataContext, DataModule, Item, Split
from .splits import assign_splits, check_no_straddle


class ImageDataModule(DataModule):
    """Subclasses implement :meth:`scan` (the items and class names) and :meth:`load_transforms`."""

    def __init__(self, params: DataParams, context: DataContext) -> None:
        self.params = params
        self.context = context
        self.class_names: list[str] = []
        self.items: list[Item] = []
        self.assignment: dict[str, Split] = {}
        self._datasets: dict[tuple[Split, bool], Dataset] = {}
        self._ready = False
        self._train_chain: mt.Compose | None = None

    # -- what a subclass supplies ------------------------------------------------------------
    @abstractmethod
    def scan(self) -> tuple[list[Item], list[str]]:
        """All images (with labels as indices into the class names) and the class names."""

    @abstractmethod
    def load_transforms(self) -> list[mt.Transform]:
        """Decode ``item["image"]`` (path or array) into a C×H×W array or tensor."""

    def split_seed(self) -> int:
        return self.params.split.seed if self.params.split.seed is not None else self.context.seed

    # -- the common work ------------------------------------------------------------------------
    def setup(self) -> None:
        if self._ready:
            return
        self.items, self.class_names = self.scan()
        if not self.items:
            raise DataError(f"{type(self).__name__}: no images found")
        method = self.params.split.method
        if method == "predefined":
            missing = [it.id for it in self.items if it.split is None]
            if missing:
                raise DataError(f"split.method = 'predefined' but {len(missing)} images have no split (e.g. {missing[0]})")
            self.assignment = {it.id: it.split for it in self.items}  # type: ignore[misc]
        elif method == "kfold" and all(it.fold is not None for it in self.items):
            self.assignment = self._assign_predefined_folds()
        else:
            groups = [it.group or it.id for it in self.items]
            splits = assign_splits([it.label for it in self.items], groups, self.params.split, self.split_seed())
            self.assignment = {it.id: s for it, s in zip(self.items, splits)}  # type: ignore[misc]
        bad = check_no_straddle([it.group or it.id for it in self.items], [self.assignment[it.id] for it in self.items])
        if bad:
            raise DataError(f"internal error: groups straddle splits: {bad[:5]}")
        self._ready = True

    def _assign_predefined_folds(self) -> dict[str, Split]:
        sp = self.params.split
        rest = [it for it in self.items if it.fold != sp.fold]
        out: dict[str, Split] = {it.id: "test" for it in self.items if it.fold == sp.fold}
        if sp.val > 0 and rest:
            groups = [it.group or it.id for it in rest]
            sub = sp.model_copy(update={"method": "stratified", "test": 0.0, "val": sp.val})
            for it, s in zip(rest, assign_splits([it.label for it in rest], groups, sub, self.split_seed())):
                out[it.id] = s  # type: ignore[assignment]
        else:
            out.update({it.id: "train" for it in rest})
        return out

    def items_of(self, split: Split) -> list[Item]:
        self.setup()
        return [it for it in self.items if self.assignment[it.id] == split]

    def labels(self, split: Split) -> np.ndarray:
        return np.array([it.label for it in self.items_of(split)], dtype=np.int64)

    def _records(self, split: Split) -> list[dict[str, Any]]:
        return [{"image": it.source, "label": it.label, "id": it.id} for it in self.items_of(split)]

    def dataset(self, split: Split, *, train_transforms: bool | None = None) -> Dataset:
        augment = (split == "train") if train_transforms is None else train_transforms
        key = (split, augment)
        if key not in self._datasets:
            pre = mt.Compose(self.load_transforms() + tf.preprocess(self.image_size, self.in_chans))
            aug = tf.augmentation(self.params.augment) if augment else []
            chain = mt.Compose([*pre.transforms, *aug])
            if augment:
                chain.set_random_state(seed=self.context.seed)
                self._train_chain = chain
            records = self._records(split)
            if self.params.cache == "memory":
                ds: Dataset = CacheDataset(records, transform=chain, cache_rate=1.0, num_workers=0, progress=False, copy_cache=True)
            else:
                ds = MonaiDataset(records, transform=chain)
            self._datasets[key] = ds
        return self._datasets[key]

    def set_epoch(self, epoch: int) -> None:
        """Reseed the augmentation so epoch ``epoch`` draws the same transforms on every resume."""
        if self._train_chain is not None:
            self._train_chain.set_random_state(seed=(self.context.seed * 100_003 + epoch) % (2**32))

    def split_record(self) -> dict[str, Any]:
        self.setup()
        counts = {s: dict(Counter(self.class_names[it.label] for it in self.items_of(s))) for s in SPLITS}
        return {
            "classes": self.class_names,
            "method": self.params.split.method,
            "seed": self.split_seed(),
            "counts": counts,
            "splits": {s: [it.id for it in self.items_of(s)] for s in SPLITS},
        }
