"""``image_folder``: a lab's own images without writing a plugin.

Either a tree ``<root>/<class>/*.png|jpg|bmp|tif|dcm`` (labels from the folder names), or any files
under the root listed in a CSV with a file column and a label column, optionally a group column
(e.g. patient id: a group never straddles splits), a fold column (predefined folds for
``split.method = "kfold"``) and a split column (``train``/``val``/``test`` for ``"predefined"``).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator

from sharpreg import hookimpl
from sharpreg.data.images import ImageDataModule
from sharpreg.data.io import IMAGE_SUFFIXES
from sharpreg.data.module import SPLITS, Item
from sharpreg.data.params import DistinctClasses, ImageSetParams
from sharpreg.errors import DataError
from sharpreg.specs import DatasetSpec

LAYOUT = """  <root>/<class name>/<image>.png|jpg|jpeg|bmp|tif|tiff|dcm   (one folder per class), or
  <root>/... any files, listed in data.csv with columns file,label[,group][,fold][,split]"""
_SPLIT_NAMES = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val",
                "test": "test", "testing": "test"}


class ImageFolderParams(ImageSetParams):
    classes: Annotated[list[str], DistinctClasses] | None = Field(
        None, description="Classes to use, in label order (default: every class found, sorted by name)."
    )
    csv: Path | None = Field(None, description="CSV listing the images (path relative to the root, or absolute).")
    file_column: str = Field("file", description="CSV column with each image's path, relative to the root.")
    label_column: str = Field("label", description="CSV column with each image's class name.")
    group_column: str | None = Field(None, description="CSV column grouping images (e.g. patient id).")
    fold_column: str | None = Field(None, description="CSV column with predefined folds (integers).")
    split_column: str | None = Field(None, description="CSV column with a predefined train/val/test split.")
    missing_files: Literal["error", "skip"] = Field("error", description="CSV rows whose file does not exist: 'error', or 'skip' (counted).")
    extensions: list[str] = Field(list(IMAGE_SUFFIXES), min_length=1, description="Image file suffixes.")

    @field_validator("classes")
    @classmethod
    def _two(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and len(v) < 2:
            raise ValueError("need at least two classes")
        return v

    @field_validator("extensions")
    @classmethod
    def _suffixes(cls, v: list[str]) -> list[str]:
        return [s.lower() if s.startswith(".") else f".{s.lower()}" for s in v]


class ImageFolderData(ImageDataModule):
    params: ImageFolderParams
    data_name = "image_folder"
    expected_layout = LAYOUT

    def scan(self) -> tuple[list[Item], list[str]]:
        root = self.root()
        return self._scan_csv(root) if self.params.csv is not None else self._scan_tree(root)

    def _images_under(self, folder: Path) -> list[Path]:
        exts = set(self.params.extensions)
        return sorted(f for f in folder.rglob("*") if f.is_file() and f.suffix.lower() in exts
                      and not any(part.startswith(".") for part in f.relative_to(folder).parts))

    def _choose(self, found: list[str], where: str) -> list[str]:
        wanted = self.params.classes
        if wanted is None:
            if len(found) < 2:
                raise DataError(f"image_folder: found {len(found)} class(es) ({', '.join(found) or 'none'}) in "
                                f"{where}; need at least two\nexpected layout:\n{LAYOUT}")
            return found
        unknown = [c for c in wanted if c not in found]
        if unknown:
            raise DataError(f"image_folder: unknown class {unknown[0]!r}: {where} has {', '.join(found) or 'none'}")
        return list(wanted)

    def _scan_tree(self, root: Path) -> tuple[list[Item], list[str]]:
        found = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
        names = self._choose(found, f"folder {root}")
        items: list[Item] = []
        for label, cls in enumerate(names):
            files = self._images_under(root / cls)
            if not files:
                raise DataError(f"image_folder: class folder {root / cls} holds no images "
                                f"({', '.join(self.params.extensions)})")
            items += [Item(id=f.relative_to(root).as_posix(), label=label, source=str(f)) for f in files]
        return items, names

    def _read_csv(self, root: Path) -> tuple[Path, list[dict[str, str]]]:
        """The CSV's path and rows; it must have every column the parameters name and at least one row."""
        p = self.params
        path = p.csv.expanduser()  # type: ignore[union-attr]
        path = path if path.is_absolute() else root / path
        if not path.is_file():
            raise DataError(f"image_folder: data.csv {path} not found")
        try:
            with open(path, newline="", encoding="utf-8-sig") as f:
                reader = csv.DictReader(f)
                columns = list(reader.fieldnames or [])
                rows = list(reader)
        except (OSError, UnicodeDecodeError, csv.Error) as err:
            raise DataError(f"image_folder: cannot read {path}: {err}") from None
        wanted = [c for c in (p.file_column, p.label_column, p.group_column, p.fold_column, p.split_column) if c]
        missing = [c for c in wanted if c not in columns]
        if missing:
            raise DataError(f"image_folder: {path} lacks column(s) {', '.join(missing)}; it has "
                            f"{', '.join(columns) or 'no header'}")
        if not rows:
            raise DataError(f"image_folder: {path} lists no images")
        return path, rows

    def _scan_csv(self, root: Path) -> tuple[list[Item], list[str]]:
        p = self.params
        path, rows = self._read_csv(root)
        found = sorted({(r.get(p.label_column) or "").strip() for r in rows} - {""})
        names = self._choose(found, str(path))
        items: list[Item] = []
        outside = 0
        for n, row in enumerate(rows, start=2):  # line 1 is the header
            where = f"{path}:{n}"
            rel = (row.get(p.file_column) or "").strip()
            label = (row.get(p.label_column) or "").strip()
            if not rel or not label:
                raise DataError(f"image_folder: {where}: empty {p.file_column if not rel else p.label_column}")
            if label not in names:
                outside += 1
                continue
            file = root / rel
            if not file.is_file():
                if p.missing_files == "skip":
                    self.skipped.append({"image": rel, "class": label, "reason": f"{where}: file not found"})
                    continue
                raise DataError(f"image_folder: {where}: unknown file {rel!r} (no {file}); "
                                "set data.missing_files = \"skip\" to leave such rows out, counted")
            items.append(self._item(Item(id=Path(rel).as_posix(), label=names.index(label), source=str(file)), row, where))
        if outside:
            self.notes.append(f"{outside} CSV rows have a class outside data.classes and were left out")
        listed = {Path((r.get(p.file_column) or "").strip()).as_posix() for r in rows}
        unlisted = sum(1 for f in self._images_under(root) if f.relative_to(root).as_posix() not in listed)
        if unlisted:
            self.notes.append(f"{unlisted} image files under {root} are not listed in {path.name}")
        return items, names

    def _item(self, item: Item, row: dict[str, str], where: str) -> Item:
        """``item`` with the group, fold and split of its CSV row, where the parameters name those columns."""
        p = self.params
        if p.group_column:
            item.group = (row.get(p.group_column) or "").strip() or None
        if p.fold_column:
            raw = (row.get(p.fold_column) or "").strip()
            try:
                item.fold = int(raw)
            except ValueError:
                raise DataError(f"image_folder: {where}: fold {raw!r} is not an integer") from None
        if p.split_column:
            raw = (row.get(p.split_column) or "").strip().lower()
            if raw not in _SPLIT_NAMES:
                raise DataError(f"image_folder: {where}: split {raw!r} is not one of {', '.join(SPLITS)}")
            item.split = _SPLIT_NAMES[raw]  # type: ignore[assignment]
        return item


@hookimpl
def sharpreg_datasets() -> list[DatasetSpec]:
    return [
        DatasetSpec(
            name="image_folder",
            params=ImageFolderParams,
            factory=ImageFolderData,
            summary="Any class-per-folder image tree, or images listed in a CSV with labels, groups and folds.",
            citation="sharpreg",
        )
    ]
