"""Parameters shared by the file-based data sets (busi, breastmnist, image_folder)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import AfterValidator, Field

from ..specs import DataParams

T = TypeVar("T", bound=Sequence | None)


def _distinct(values: T) -> T:
    if values is not None and len(set(values)) != len(values):
        raise ValueError("classes must not repeat")
    return values


#: ``Annotated[list[...], DistinctClasses]``: a class list in which no class repeats
DistinctClasses = AfterValidator(_distinct)


class ImageSetParams(DataParams):
    """A data set read from files: where it is, and what to do with duplicates and bad images."""

    root: Path | None = Field(
        None,
        description="Folder of the data set; default $SHARPREG_DATA/<plugin name>. A relative path starts "
        "at the recipe's folder.",
    )
    near_duplicate_distance: int = Field(
        10,
        ge=-1,
        le=32,
        description="Images whose 64-bit perceptual hashes differ in at most this many bits are "
        "near-duplicates (grouped when split.group_duplicates). -1: exact (pixel-identical) duplicates only. "
        "On BUSI every pair at 6-10 bits shows the same scan or lesion, at 12 bits 4 of 21 pairs join "
        "different patients, at 14 bits 52 of 60 (docs/duplicates-audit.md).",
    )
    cross_class_duplicates: Literal["drop", "keep", "error"] = Field(
        "drop",
        description="A duplicate group whose images carry different labels (e.g. BUSI's same image "
        "filed as benign and malignant): 'drop' every image of the group, 'keep' them (in one split), "
        "or 'error'. Always reported.",
    )
    on_bad_image: Literal["error", "skip"] = Field(
        "error",
        description="An unreadable or corrupt image: 'error' stops with its path; 'skip' leaves it out, "
        "counted and listed in the summary and split.json.",
    )
