"""A base for image data sets: scan items, probe and group duplicates, split, serve cached MONAI pipelines."""

from __future__ import annotations

import logging
from abc import abstractmethod
from collections import Counter
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from monai import transforms as mt
from torch.utils.data import Dataset

from ..errors import DataError
from ..specs import DataParams
from . import transforms as tf
from .duplicates import Probe, ProbeCache, UnionFind, duplicate_groups, probe_sources
from .io import LoadImageFiled, as_text, find_data_error
from .module import SPLITS, DataContext, DataModule, Item, Split
from .params import ImageSetParams
from .content import ContentIndex
from .diskcache import cache_mode, image_keys
from .identity import pixel_hash
from .pipeline import Reseeded, image_dataset, one_thread
from .splits import assign_splits, check_no_straddle, fold_numbers, place_twins
from .summary import Inventory, build_summary

log = logging.getLogger(__name__)


class ImageDataModule(DataModule):
    """Subclasses implement :meth:`scan` (the items and class names); file-based ones inherit the
    default :meth:`load_transforms` (decode a path), in-memory ones override it.

    ``setup`` then probes every image (size, pixel hash, perceptual hash; cached on disk), groups
    exact and near-duplicates, applies the ``cross_class_duplicates`` choice, splits by group and
    records everything it did (``summary()``, ``split_record()``).
    """

    #: probe images (sizes, corruption, duplicates); off for generated data
    probe_images: ClassVar[bool] = True
    #: plugin name, for messages and the default root ``$SHARPREG_DATA/<data_name>``
    data_name: ClassVar[str] = "data"
    #: the folder layout expected under the root, shown when the root is missing or malformed
    expected_layout: ClassVar[str] = ""

    def __init__(self, params: DataParams, context: DataContext) -> None:
        self.params = params
        self.context = context
        self.class_names: list[str] = []
        self.items: list[Item] = []
        self.assignment: dict[str, Split] = {}
        self.group_of: dict[str, str] = {}
        self.probes: dict[str, Probe] = {}
        self.found: Counter[str] = Counter()
        self.dropped: list[dict[str, Any]] = []
        self.skipped: list[dict[str, Any]] = []
        self.duplicate_records: list[dict[str, Any]] = []
        self.notes: list[str] = []
        self.twins: dict[str, Any] | None = None
        self.content = ContentIndex(self.data_name, [], params)
        self.left_out: list[Item] = []
        """images set aside by the split (the leakage ablation, or a split file): listed in split.json"""
        self.folds: dict[str, int] = {}
        self._datasets: dict[tuple[Split, bool], Dataset] = {}
        self._ready = False
        self._identified = False
        self._epoch = 0

    # -- what a subclass supplies ------------------------------------------------------------
    @abstractmethod
    def scan(self) -> tuple[list[Item], list[str]]:
        """All images (with labels as indices into the class names) and the class names."""

    def load_transforms(self) -> list[mt.Transform]:
        """Decode ``item["image"]`` (a path by default) into a C×H×W array."""
        return [LoadImageFiled(["image"])]

    def intensity_transforms(self) -> list[mt.Transform] | None:
        """How decoded pixels become the network's input range; ``None``: each image stretched to [0, 1]."""
        return None

    def record_extras(self, item: Item) -> dict[str, Any]:
        """Extra keys of an item's pipeline record (e.g. mask paths for a lesion crop)."""
        return {}

    def split_seed(self) -> int:
        return self.params.split.seed if self.params.split.seed is not None else self.context.seed

    @cached_property
    def files(self) -> ImageSetParams:
        """The options of data read from files (root, duplicates, bad images): this data set's own, or
        their declared defaults when its parameters are plain ``DataParams``."""
        return self.params if isinstance(self.params, ImageSetParams) else ImageSetParams()

    # -- helpers for file-based subclasses -------------------------------------------------------
    def root(self) -> Path:
        """The data folder: ``data.root`` (relative to the recipe) or ``$SHARPREG_DATA/<name>``."""
        given = self.files.root
        layout = f"\nexpected layout:\n{self.expected_layout}" if self.expected_layout else ""
        if given is not None:
            path = Path(given).expanduser()
            path = path if path.is_absolute() else self.context.base_dir / path
            origin = "data.root"
        else:
            default = self.context.default_root(self.data_name)
            if default is None:
                raise DataError(f"{self.data_name}: no data folder: set data.root in the recipe or the "
                                f"environment variable SHARPREG_DATA (the folder holding {self.data_name}/){layout}")
            path, origin = default, f"$SHARPREG_DATA/{self.data_name}"
        if not path.exists():
            raise DataError(f"{self.data_name}: data folder {path} not found (looked at {origin}){layout}")
        return path

    # -- the common work ------------------------------------------------------------------------
    def identify(self) -> None:
        """Scan, probe, group and hash the images, and check them against what the recipe pins (no split):
        all the fingerprint needs. Idempotent; ``setup`` starts with it."""
        if self._identified:
            return
        items, names = self.scan()
        if not items:
            raise DataError(f"{self.data_name}: no images found")
        self.class_names = [as_text(c) for c in names]
        for it in items:
            it.id = as_text(it.id)  # a file name that is not UTF-8 gets a readable, writable id
        ids = Counter(it.id for it in items)
        repeated = [k for k, v in ids.items() if v > 1]
        if repeated:
            raise DataError(f"{self.data_name}: image {repeated[0]!r} is listed {ids[repeated[0]]} times")
        self.found = Counter(self.class_names[it.label] for it in items)
        if self.probe_images:
            items = self._probe(items)
        items = self._identify(self._group(items))
        empty = [c for i, c in enumerate(self.class_names) if not any(it.label == i for it in items)]
        if empty:
            raise DataError(f"{self.data_name}: class {empty[0]!r} has no images left after dropping "
                            f"duplicates / skipping bad images (found {self.found[empty[0]]})")
        self.items = items
        self._identified = True

    def setup(self) -> None:
        if self._ready:
            return
        self.identify()
        self.assignment = self._assign()
        groups = [self.group_of[it.id] for it in self.items]
        bad = check_no_straddle(groups, [self.assignment[it.id] for it in self.items])
        if bad and not self._split_is_given():
            raise DataError(f"internal error: groups straddle splits: {bad[:5]}")
        if self.params.split.twins != "grouped":
            self._place_twins()
        for rec in self.duplicate_records:
            rec["splits"] = sorted({self.assignment[i] for i in rec["images"] if i in self.assignment})
        if bad:
            self.notes.append(f"{len(bad)} duplicate/patient groups straddle the data set's own split "
                              "(it cannot be changed); see duplicates.straddling")
            log.warning("%s: %s", self.data_name, self.notes[-1])
        self._ready = True

    @property
    def fingerprint(self) -> str | None:
        self.identify()
        return self.content.fingerprint

    def _split_is_given(self) -> bool:
        sp = self.params.split
        return sp.method in ("predefined", "file") or (sp.method == "kfold" and all(it.fold is not None for it in self.items))

    def _identify(self, items: list[Item]) -> list[Item]:
        """Items in content order (a renamed or reordered copy trains on the same batches), the split file
        matched by content, and the fingerprint of the images used checked against the recipe's."""
        self.content = ContentIndex(self.data_name, self.class_names, self.params)
        items, unlisted = self.content.match_file(self.content.order(items, self._content_hashes(items)))
        self.dropped += [{"image": it.id, "class": self.class_names[it.label],
                          "reason": "not in the split file (data.split.unlisted = \"leave_out\")"} for it in unlisted]
        self.content.verify(items)
        return items

    def _content_hashes(self, items: list[Item]) -> dict[str, str]:
        """Each image's content hash: from its probe, else from decoding it as the pipeline does."""
        if self.probe_images:
            return {it.id: self.probes[it.id].pixels for it in items}
        decode = mt.Compose(self.load_transforms())
        with one_thread():
            return {it.id: pixel_hash(np.asarray(decode({"image": it.source, **self.record_extras(it)})["image"]))
                    for it in items}

    def _set_aside(self, items: list[Item], reason: str) -> None:
        """Leave ``items`` out of every split (they stay listed in split.json with no split)."""
        gone = {it.id for it in items}
        self.left_out += items
        self.dropped += [{"image": it.id, "class": self.class_names[it.label], "reason": reason} for it in items]
        self.items = [it for it in self.items if it.id not in gone]

    def _probe(self, items: list[Item]) -> list[Item]:
        bad: dict[int, str] = {}

        def on_error(i: int, err: Exception) -> None:
            if self.files.on_bad_image == "error":
                raise DataError(f"{err} (set data.on_bad_image = \"skip\" to leave such images out, counted)")
            bad[i] = str(err)

        probes = probe_sources([it.source for it in items], ProbeCache(), on_error=on_error)
        kept = []
        for i, (it, pr) in enumerate(zip(items, probes)):
            if pr is None:
                self.skipped.append({"image": it.id, "class": self.class_names[it.label], "reason": bad[i]})
            else:
                self.probes[it.id] = pr
                kept.append(it)
        if bad:
            log.warning("%s: skipped %d unreadable images", self.data_name, len(bad))
        return kept

    def _group(self, items: list[Item]) -> list[Item]:
        """Merge patient groups and duplicate groups; drop cross-class duplicate groups if asked."""
        uf = UnionFind(len(items))
        first: dict[str, int] = {}
        for i, it in enumerate(items):
            if it.group is not None:
                uf.union(first.setdefault(it.group, i), i)
        drop: set[int] = set()
        if self.params.split.group_duplicates and self.probe_images:
            distance = self.files.near_duplicate_distance
            policy = self.files.cross_class_duplicates
            groups = duplicate_groups([self.probes[it.id] for it in items], None if distance < 0 else distance)
            for g in groups:
                labels = sorted({items[i].label for i in g.members})
                cross = len(labels) > 1
                names = [items[i].id for i in g.members]
                if cross and policy == "error":
                    raise DataError(f"{self.data_name}: the same image is filed under different classes: "
                                    f"{', '.join(names)} (data.cross_class_duplicates = \"drop\" or \"keep\")")
                action = "dropped" if cross and policy == "drop" else "grouped"
                self.duplicate_records.append({
                    "kind": "exact" if g.exact else "near",
                    "images": names,
                    "classes": [self.class_names[items[i].label] for i in g.members],
                    "cross_class": cross,
                    "action": action,
                })
                if action == "dropped":
                    drop.update(g.members)
                    self.dropped.extend({"image": items[i].id, "class": self.class_names[items[i].label],
                                         "reason": "cross-class duplicate"} for i in g.members)
                for i in g.members[1:]:
                    uf.union(g.members[0], i)
            if self.dropped:
                log.warning("%s: dropped %d images in %d cross-class duplicate groups", self.data_name,
                            len(self.dropped), sum(r["action"] == "dropped" for r in self.duplicate_records))
        self.group_of = {it.id: f"g{uf.find(i)}" for i, it in enumerate(items)}
        return [it for i, it in enumerate(items) if i not in drop]

    def _keys(self, items: list[Item]) -> list[str]:
        """The split keys of ``items``: content, not names."""
        return [self.content.keys[it.id] for it in items]

    def _assign(self) -> dict[str, Split]:
        sp = self.params.split
        if sp.method == "all":
            return {it.id: "test" for it in self.items}
        if sp.method == "file":
            by_file = self.content.file_assignment(self.items, self.group_of)
            self._set_aside([it for it in self.items if by_file[it.id] is None], "left out in the split file")
            self.folds = self.content.folds_from_file()
            return {i: s for i, s in by_file.items() if s is not None}
        if sp.method == "predefined":
            missing = [it.id for it in self.items if it.split is None]
            if missing:
                raise DataError(f"data.split.method = 'predefined' but {len(missing)} images have no "
                                f"predefined split (e.g. {missing[0]})")
            return {it.id: it.split for it in self.items}  # type: ignore[misc]
        if sp.method == "kfold" and self.items and all(it.fold is not None for it in self.items):
            return self._assign_predefined_folds()
        groups = [self.group_of[it.id] for it in self.items]
        labels, keys = [it.label for it in self.items], self._keys(self.items)
        splits = assign_splits(labels, groups, sp, self.split_seed(), keys=keys)
        if sp.method == "kfold":
            self.folds = dict(zip((it.id for it in self.items), fold_numbers(labels, groups, sp, self.split_seed(), keys)))
        return {it.id: s for it, s in zip(self.items, splits)}  # type: ignore[misc]

    def _place_twins(self) -> None:
        """The leakage ablation's arm (``data.split.twins``): one image per test group stays in test; its
        twins are left out or go to training in place of as many training images of their class."""
        mode = self.params.split.twins
        splits, self.twins = place_twins(
            [self.class_names[it.label] for it in self.items], [self.group_of[it.id] for it in self.items],
            [self.assignment[it.id] for it in self.items], self._keys(self.items), mode, self.split_seed())
        name_of = {self.content.keys[it.id]: it.id for it in self.items}
        self.twins["twins"] = [name_of[k] for k in self.twins["twins"]]
        self.twins["replaced"] = [name_of[k] for k in self.twins["replaced"]]
        reasons = {"held_out": "twin of a test image, held out (data.split.twins)",
                   "in_train": "replaced in training by a twin of a test image (data.split.twins)"}
        for it, s in zip(self.items, splits):
            if s is None:
                del self.assignment[it.id]
            else:
                self.assignment[it.id] = s
        self._set_aside([it for it, s in zip(self.items, splits) if s is None], reasons[mode])
        self.twins["train_images"] = sum(s == "train" for s in splits)

    def _assign_predefined_folds(self) -> dict[str, Split]:
        sp = self.params.split
        folds = sorted({int(it.fold) for it in self.items})  # type: ignore[arg-type]
        self.folds = {it.id: int(it.fold) for it in self.items}  # type: ignore[arg-type]
        if sp.fold not in folds:
            raise DataError(f"data.split.fold = {sp.fold} is not one of the data set's {len(folds)} predefined folds "
                            "(the values of its fold column)")
        rest = [it for it in self.items if it.fold != sp.fold]
        out: dict[str, Split] = {it.id: "test" for it in self.items if it.fold == sp.fold}
        if sp.val > 0 and rest:
            groups = [self.group_of[it.id] for it in rest]
            sub = sp.model_copy(update={"method": "stratified", "test": 0.0})
            assigned = assign_splits([it.label for it in rest], groups, sub, self.split_seed(), keys=self._keys(rest))
            for it, s in zip(rest, assigned):
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
        return [{"image": it.source, "label": it.label, "id": it.id, **self.record_extras(it)}
                for it in self.items_of(split)]

    def dataset(self, split: Split, *, train_transforms: bool | None = None, defer_augmentation: bool = False) -> Dataset:
        """``defer_augmentation``: items carry their draws, for ``data.augment.augment_batch`` and
        ``transforms.normalize_batch`` on the device."""
        augment = (split == "train") if train_transforms is None else train_transforms
        defer = augment and defer_augmentation
        key = (split, augment, defer)
        if key not in self._datasets:
            pre = self.load_transforms() + tf.preprocess(self.image_size, self.in_chans, self.intensity_transforms())
            chain, normalized = tf.full_chain(pre, self.params.augment if augment else None, self.params.normalize,
                                              self.in_chans, defer=defer)
            records = self._records(split)
            mode = cache_mode(self)
            keys = image_keys(self, self.items_of(split), normalized=normalized) if mode == "disk" else None
            try:
                ds = image_dataset(records, chain, cache=mode, keys=keys)
                if augment:
                    ds.aug_seed, ds.epoch = self.context.seed, self._epoch
            except Exception as err:
                found = find_data_error(err)
                if found is not None:
                    raise found from None
                raise
            self._datasets[key] = ds
        return self._datasets[key]

    def set_epoch(self, epoch: int) -> None:
        """Epoch ``epoch``'s augmentation: item i of it draws the same transforms on every run, resume
        and worker layout (its random state comes from (train seed, epoch, i))."""
        self._epoch = epoch
        for ds in self._datasets.values():
            if isinstance(ds, Reseeded) and ds.aug_seed is not None:
                ds.epoch = epoch

    def summary(self, *, images: bool = False) -> dict[str, Any]:
        """Counts per class and split, image sizes, duplicate groups and where they went; with
        ``images`` every image's name under its split."""
        self.setup()
        return build_summary(self._inventory(), images=images)

    def _inventory(self) -> Inventory:
        checked = bool(self.params.split.group_duplicates and self.probe_images)
        shown = checked or isinstance(self.params, ImageSetParams)  # the options in force, where there are any
        return Inventory(
            dataset=self.data_name, classes=list(self.class_names), items=self.items, assignment=self.assignment,
            group_of=self.group_of, found=self.found, probes=self.probes, duplicates=self.duplicate_records,
            dropped=self.dropped, skipped=self.skipped, notes=self.notes, image_size=self.image_size,
            channels=self.in_chans,
            split={"method": self.params.split.method, "seed": self.split_seed(),
                   "group_duplicates": self.params.split.group_duplicates},
            duplicates_checked=checked,
            near_duplicate_distance=self.files.near_duplicate_distance if shown else None,
            cross_class_policy=self.files.cross_class_duplicates if shown else None, twins=self.twins)

    def split_record(self) -> dict[str, Any]:
        self.setup()
        rec = build_summary(self._inventory(), images=True)
        rec["method"] = self.params.split.method
        rec["seed"] = self.split_seed()
        rec["splits"] = rec.pop("images")
        rec["groups"] = {it.id: self.group_of[it.id] for it in self.items if it.group is not None}
        if self.params.split.method == "file":
            rec["file"] = str(self.params.split.file)
        return rec | self.content.listing(self.items, self.assignment, self.folds, self.left_out)


__all__ = ["SPLITS", "ImageDataModule"]
