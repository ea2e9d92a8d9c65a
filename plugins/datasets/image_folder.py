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
from sharpreg.paths import inside
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

    def _choose(self, found: list[str], where: str, *, listed: bool = True) -> list[str]:
        """The classes to use among those ``found`` in ``where`` (``listed``: their names may be shown;
        names read from a file are not)."""
        wanted = self.params.classes
        names = f" ({', '.join(found) or 'none'})" if listed else ""
        if wanted is None:
            if len(found) < 2:
                raise DataError(f"image_folder: found {len(found)} class(es){names} in {where}; need at least two"
                                f"\nexpected layout:\n{LAYOUT}")
            return found
        unknown = [c for c in wanted if c not in found]
        if unknown:
            has = f"{where} has {', '.join(found) or 'none'}" if listed else f"no row of {where} has it as its label"
            raise DataError(f"image_folder: unknown class {unknown[0]!r} (data.classes): {has}")
        return list(wanted)

    @staticmethod
    def _same_but_case(labels: list[tuple[str, str]]) -> tuple[str, str] | None:
        """Two places (of ``(place, label)``) whose labels differ only in letter case, or None."""
        first: dict[str, tuple[str, str]] = {}
        for place, label in labels:
            seen = first.setdefault(label.casefold(), (place, label))
            if seen[1] != label:
                return seen[0], place
        return None

    def _scan_tree(self, root: Path) -> tuple[list[Item], list[str]]:
        found = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
        clash = self._same_but_case([(name, name) for name in found])
        if clash:
            raise DataError(f"image_folder: the class folders {clash[0]!r} and {clash[1]!r} in {root} differ only in "
                            "letter case, so they would be two classes; merge them")
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
        except UnicodeDecodeError:
            raise DataError(f"image_folder: data.csv {path} is not UTF-8 text; save it as UTF-8 CSV") from None
        except (OSError, csv.Error) as err:
            why = err.strerror if isinstance(err, OSError) and err.strerror else "not a readable CSV file"
            raise DataError(f"image_folder: cannot read data.csv {path}: {why}") from None
        wanted = [c for c in (p.file_column, p.label_column, p.group_column, p.fold_column, p.split_column) if c]
        missing = [c for c in wanted if c not in columns]
        if missing:  # its header is not shown: data.csv may name any file, and its content is not the user's
            raise DataError(f"image_folder: data.csv {path} lacks the column(s) {', '.join(map(repr, missing))} that "
                            f"the recipe names; its header has {len(columns)} other column(s). Set data.file_column, "
                            "data.label_column... to its column names, or point data.csv at the right file")
        if not rows:
            raise DataError(f"image_folder: {path} lists no images")
        return path, rows

    def _scan_csv(self, root: Path) -> tuple[list[Item], list[str]]:
        p = self.params
        path, rows = self._read_csv(root)
        labels = [(f"{path}:{n}", (r.get(p.label_column) or "").strip()) for n, r in enumerate(rows, start=2)]
        clash = self._same_but_case([(where, label) for where, label in labels if label] +
                                    [("data.classes", c) for c in self.params.classes or ()])
        if clash:
            raise DataError(f"image_folder: the labels at {clash[0]} and {clash[1]} differ only in letter case, so "
                            "they would be two classes; write them the same")
        found = sorted({label for _, label in labels} - {""})
        names = self._choose(found, str(path), listed=False)
        items: list[Item] = []
        outside = 0
        listed_at: dict[str, str] = {}
        for n, row in enumerate(rows, start=2):  # line 1 is the header
            where = f"{path}:{n}"
            rel = (row.get(p.file_column) or "").strip()
            label = (row.get(p.label_column) or "").strip()
            if not rel or not label:
                raise DataError(f"image_folder: {where}: empty {p.file_column if not rel else p.label_column}")
            file = inside(root, rel)
            if file is None:
                raise DataError(f"image_folder: {where}: column {p.file_column!r} holds an absolute path or one with "
                                "'..'; list files relative to data.root")
            if label not in names:
                outside += 1
                continue
            if not file.is_file():
                if p.missing_files == "skip":
                    self.skipped.append({"image": rel, "class": label, "reason": f"{where}: file not found"})
                    continue
                raise DataError(f"image_folder: {where}: the file in column {p.file_column!r} does not exist under "
                                f"{root}; set data.missing_files = \"skip\" to leave such rows out, counted")
            key = Path(rel).as_posix()
            if key in listed_at:
                raise DataError(f"image_folder: {where} lists the same file as {listed_at[key]}; list each image once")
            listed_at[key] = where
            items.append(self._item(Item(id=key, label=names.index(label), source=str(file)), row, where))
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
                raise DataError(f"image_folder: {where}: column {p.fold_column!r} (the fold) is not an integer") from None
        if p.split_column:
            raw = (row.get(p.split_column) or "").strip().lower()
            if raw not in _SPLIT_NAMES:
                raise DataError(f"image_folder: {where}: column {p.split_column!r} (the split) is not one of "
                                f"{', '.join(SPLITS)}")
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
