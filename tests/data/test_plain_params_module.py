"""A data module whose parameters are plain ``DataParams`` gets the declared defaults of the file-data
options (``ImageSetParams``): duplicates are probed and a cross-class duplicate is dropped, as declared."""

from __future__ import annotations

from monai import transforms as mt

from sharpreg.data.images import ImageDataModule
from sharpreg.data.io import to_channels_first
from sharpreg.data.module import Item
from sharpreg.data.params import ImageSetParams
from sharpreg.specs import DataParams

from .conftest import pattern


class Arrays(ImageDataModule):
    """Eight distinct in-memory images, and a copy of the first filed under the other class."""

    data_name = "arrays"

    def scan(self) -> tuple[list[Item], list[str]]:
        images = [pattern(seed + 1) for seed in range(8)]
        items = [Item(f"img{i}", i % 2, a) for i, a in enumerate(images)]
        items.append(Item("copy-of-img0", 1, images[0].copy()))
        return items, ["a", "b"]

    def load_transforms(self) -> list[mt.Transform]:
        return [mt.Lambdad(["image"], to_channels_first)]


def test_cross_class_duplicates_follow_the_declared_default(ctx) -> None:
    declared = ImageSetParams()
    assert declared.cross_class_duplicates == "drop"
    dm = Arrays(DataParams(image_size=16), ctx())
    dm.setup()
    assert sorted(d["image"] for d in dm.dropped) == ["copy-of-img0", "img0"]
    assert len(dm.items) == 7
    dup = dm.summary()["duplicates"]
    assert dup["checked"] and dup["cross_class_policy"] == "drop"
    assert dup["near_duplicate_distance"] == declared.near_duplicate_distance
