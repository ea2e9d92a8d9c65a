"""``busi``: the Breast Ultrasound Images data set (Al-Dhabyani et al. 2020) in its original layout.

``<root>/{benign,malignant,normal}/<class> (N).png`` with ``<class> (N)_mask.png`` beside it (and
``_mask_1.png``, ``_mask_2.png`` for images with several lesions; they are merged). Class subsets and
label maps (e.g. normal+benign vs malignant) come from the recipe. The masks allow a lesion-centred
crop. The same image appears under two classes and many frames are near-duplicates: ``setup`` finds
them, and ``cross_class_duplicates`` decides what happens to label conflicts.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from monai import transforms as mt
from pydantic import Field, model_validator

from sharpreg import hookimpl
from sharpreg.data.images import ImageDataModule
from sharpreg.data.io import LoadImageFiled, image_size_of
from sharpreg.data.module import Item
from sharpreg.data.params import DistinctClasses, ImageSetParams
from sharpreg.errors import DataError
from sharpreg.specs import DatasetSpec

BusiClass = Literal["benign", "malignant", "normal"]
_MASK = re.compile(r"^(?P<stem>.+)_mask(?:_(?P<k>\d+))?\.png$", re.IGNORECASE)
_NUMBER = re.compile(r"\((\d+)\)")

LAYOUT = """  <root>/benign/benign (1).png           the image
  <root>/benign/benign (1)_mask.png      its lesion mask (more lesions: _mask_1.png, _mask_2.png)
  <root>/malignant/malignant (1).png ...
  <root>/normal/normal (1).png ...       (the original Dataset_BUSI_with_GT release)"""


class BusiParams(ImageSetParams):
    classes: Annotated[list[BusiClass], DistinctClasses] = Field(
        ["benign", "malignant"], min_length=1, description="Class folders to use, in label order."
    )
    label_map: dict[BusiClass, str] = Field(
        {},
        description="Rename or merge classes, e.g. {normal = \"non-malignant\", benign = \"non-malignant\"}; "
        "labels are ordered by their first class in `classes`.",
    )
    require_masks: bool = Field(True, description="Every image must have at least one mask file.")
    crop: Literal["none", "lesion"] = Field(
        "none",
        description="'lesion': crop a square around the (merged) lesion mask before resizing; images with "
        "an empty mask (normal) stay whole. It uses the radiologists' masks at test time too.",
    )
    crop_margin: float = Field(0.25, ge=0.0, le=5.0, description="Margin around the lesion box, as a fraction of its longer side.")

    @model_validator(mode="after")
    def _labels(self) -> BusiParams:
        extra = sorted(set(self.label_map) - set(self.classes))
        if extra:
            raise ValueError(f"label_map names {extra}, which are not in classes {self.classes}")
        if len(self.label_names()) < 2:
            raise ValueError("need at least two labels (check classes and label_map)")
        return self

    def label_names(self) -> list[str]:
        names: list[str] = []
        for c in self.classes:
            n = self.label_map.get(c, c)
            if n not in names:
                names.append(n)
        return names


def _order(name: str) -> tuple[int, str]:
    m = _NUMBER.search(name)
    return (int(m.group(1)) if m else 1 << 30, name)


class BusiData(ImageDataModule):
    params: BusiParams
    data_name = "busi"
    expected_layout = LAYOUT

    def scan(self) -> tuple[list[Item], list[str]]:
        p = self.params
        root = self.root()
        names = p.label_names()
        items: list[Item] = []
        for cls in p.classes:
            folder = root / cls
            if not folder.is_dir():
                present = sorted(d.name for d in root.iterdir() if d.is_dir())
                raise DataError(f"busi: class folder {folder} not found (folders in {root}: "
                                f"{', '.join(present) or 'none'})\nexpected layout:\n{LAYOUT}")
            images: dict[str, Path] = {}
            masks: dict[str, list[Path]] = {}
            for f in folder.iterdir():
                if not f.is_file() or f.suffix.lower() != ".png":
                    continue
                m = _MASK.match(f.name)
                if m:
                    masks.setdefault(m.group("stem"), []).append(f)
                else:
                    images[f.stem] = f
            if not images:
                raise DataError(f"busi: class folder {folder} holds no images (*.png)\nexpected layout:\n{LAYOUT}")
            orphans = sorted(set(masks) - set(images))
            if orphans:
                raise DataError(f"busi: mask {sorted(masks[orphans[0]])[0]} has no image "
                                f"{folder / (orphans[0] + '.png')}")
            label = names.index(p.label_map.get(cls, cls))
            for stem in sorted(images, key=_order):
                path = images[stem]
                mine = sorted(masks.get(stem, []), key=lambda q: q.name)
                if not mine and p.require_masks:
                    raise DataError(f"busi: image {path} has no mask ({stem}_mask.png); "
                                    "set data.require_masks = false to allow that")
                self._check_mask_sizes(path, mine)
                items.append(Item(id=f"{cls}/{path.name}", label=label, source=str(path),
                                  extra={"masks": [str(q) for q in mine], "folder": cls}))
        return items, names

    @staticmethod
    def _check_mask_sizes(image: Path, masks: list[Path]) -> None:
        if not masks:
            return
        try:
            size = image_size_of(image)
        except DataError:  # an unreadable image is reported (or skipped) by the probe in setup()
            return
        for m in masks:
            ms = image_size_of(m)
            if ms != size:
                raise DataError(f"busi: mask {m} is {ms[0]}x{ms[1]} px but its image {image} is "
                                f"{size[0]}x{size[1]} px")

    def load_transforms(self) -> list[mt.Transform]:
        margin = self.params.crop_margin if self.params.crop == "lesion" else None
        return [LoadImageFiled(["image"], crop_margin=margin)]

    def record_extras(self, item: Item) -> dict[str, Any]:
        return {"masks": item.extra["masks"]} if self.params.crop == "lesion" else {}

    def masks_of(self, item_id: str) -> list[str]:
        """Mask file paths of one image (by its id, e.g. ``benign/benign (1).png``)."""
        self.setup()
        return next(it.extra["masks"] for it in self.items if it.id == item_id)



@hookimpl
def sharpreg_datasets() -> list[DatasetSpec]:
    return [
        DatasetSpec(
            name="busi",
            params=BusiParams,
            factory=BusiData,
            summary="Breast Ultrasound Images (BUSI): benign / malignant / normal with lesion masks; "
            "duplicate-aware splits.",
            citation="Al-Dhabyani et al., Data in Brief 28:104863 (2020)",
        )
    ]
