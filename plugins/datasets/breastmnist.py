"""``breastmnist``: MedMNIST's BreastMNIST (the BUSI images, resized) with its official split.

Reads ``breastmnist.npz`` (28 px) or ``breastmnist_{64,128,224}.npz`` from the root. Labels are the
official binary ones: 0 = malignant, 1 = normal or benign. The official split (546/78/156) is the
default; the file inherits BUSI's cross-class duplicate (``train[115]`` = ``test[76]``), which is
reported and, by default, kept so that results stay comparable with published baselines.

Pixels reach the network as in MedMNIST v2's own training code (``ToTensor`` then
``Normalize(mean=.5, std=.5)``): ``x / 127.5 - 1``, in [-1, 1], the same mapping for every image
(``intensity = "medmnist"``, the default). ``intensity = "minmax"`` stretches each image to [0, 1]
as the other data sets do. At ``image_size = 28`` the 28 px file reaches the network unresampled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from monai import transforms as mt
from pydantic import Field

from sharpreg import hookimpl
from sharpreg.data.images import ImageDataModule
from sharpreg.data.io import to_channels_first
from sharpreg.data.module import SPLITS, Item
from sharpreg.data.params import ImageSetParams
from sharpreg.errors import DataError
from sharpreg.specs import DatasetSpec, SplitParams

CLASS_NAMES = ["malignant", "normal_or_benign"]
LAYOUT = """  <root>/breastmnist.npz          28 px (the MedMNIST file, unmodified)
  <root>/breastmnist_64.npz       64 px (likewise _128, _224)
  each with train_images, train_labels, val_images, val_labels, test_images, test_labels"""


class BreastMnistParams(ImageSetParams):
    resolution: Literal[28, 64, 128, 224] = Field(28, description="Which MedMNIST file: 28, 64, 128 or 224 px.")
    file: Path | None = Field(None, description="An explicit .npz path (instead of root + resolution).")
    image_size: int = Field(28, ge=8, le=4096, description="Images are resized to this square size.")
    split: SplitParams = Field(
        default_factory=lambda: SplitParams(method="predefined"),
        description="The split; default the official MedMNIST split.",
    )
    intensity: Literal["medmnist", "minmax"] = Field(
        "medmnist",
        description="'medmnist' (default): pixels x -> x / 127.5 - 1, MedMNIST v2's ToTensor + Normalize(.5, .5), "
        "the same for every image; 'minmax': each image stretched to [0, 1], as the other data sets.",
    )
    cross_class_duplicates: Literal["drop", "keep", "error"] = Field(
        "keep",
        description="Duplicate groups with different labels (train[115] = test[76]): 'keep' (default, "
        "the official benchmark), 'drop' every image of such a group, or 'error'. Always reported.",
    )


class BreastMnistData(ImageDataModule):
    params: BreastMnistParams
    data_name = "breastmnist"
    expected_layout = LAYOUT

    def npz_path(self) -> Path:
        p = self.params
        if p.file is not None:
            f = p.file.expanduser()
            f = f if f.is_absolute() else self.context.base_dir / f
            if not f.is_file():
                raise DataError(f"breastmnist: data.file {f} not found\nexpected:\n{LAYOUT}")
            return f
        root = self.root()
        name = "breastmnist.npz" if p.resolution == 28 else f"breastmnist_{p.resolution}.npz"
        f = root / name
        if not f.is_file():
            present = sorted(q.name for q in root.glob("*.npz"))
            raise DataError(f"breastmnist: {f} not found (data.resolution = {p.resolution}); files there: "
                            f"{', '.join(present) or 'none'}\nexpected layout:\n{LAYOUT}")
        return f

    def scan(self) -> tuple[list[Item], list[str]]:
        f, p = self.npz_path(), self.params
        try:
            data = np.load(f, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise DataError(f"breastmnist: cannot read {f} ({type(err).__name__}): it is not a MedMNIST .npz "
                            "file of plain arrays") from None
        items: list[Item] = []
        with data:
            for split in SPLITS:
                keys = (f"{split}_images", f"{split}_labels")
                missing = [k for k in keys if k not in data.files]
                if missing:
                    raise DataError(f"breastmnist: {f} lacks {', '.join(missing)} (it holds {len(data.files)} other "
                                    "arrays); is it a MedMNIST file?")
                images, labels = data[keys[0]], np.asarray(data[keys[1]]).reshape(-1)
                if images.ndim not in (3, 4) or len(images) != len(labels):
                    raise DataError(f"breastmnist: {f}: {keys[0]} has shape {images.shape} but {keys[1]} "
                                    f"has {len(labels)} labels")
                if p.intensity == "medmnist" and images.dtype != np.uint8:
                    raise DataError(f"breastmnist: {f}: {keys[0]} holds {images.dtype} pixels; data.intensity = "
                                    "'medmnist' expects MedMNIST's uint8 (0-255); set data.intensity = 'minmax'")
                bad = sorted(set(labels.tolist()) - {0, 1})
                if bad:
                    raise DataError(f"breastmnist: {f}: {keys[1]} holds {len(bad)} label value(s) other than 0 "
                                    "and 1; is it BreastMNIST?")
                items += [Item(id=f"{split}[{i}]", label=int(y), source=np.ascontiguousarray(x), split=split)
                          for i, (x, y) in enumerate(zip(images, labels))]
        return items, list(CLASS_NAMES)

    def load_transforms(self) -> list[mt.Transform]:
        return [mt.Lambdad(["image"], to_channels_first)]

    def intensity_transforms(self) -> list[mt.Transform] | None:
        if self.params.intensity == "minmax":
            return None
        return [mt.ScaleIntensityRanged(["image"], a_min=0.0, a_max=255.0, b_min=-1.0, b_max=1.0)]


@hookimpl
def sharpreg_datasets() -> list[DatasetSpec]:
    return [
        DatasetSpec(
            name="breastmnist",
            params=BreastMnistParams,
            factory=BreastMnistData,
            summary="MedMNIST BreastMNIST (BUSI resized; malignant vs normal+benign) with its official split.",
            citation="Yang et al., MedMNIST v2, Scientific Data 10:41 (2023)",
        )
    ]
