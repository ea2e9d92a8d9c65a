"""The leakage ablation through a data module (``data.split.twins``): both arms test on the same
images and drop the same cross-class duplicates; only the leaky arm trains on twins of test images."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from sharpreg_plugins.datasets.image_folder import ImageFolderData, ImageFolderParams

from .conftest import pattern, save_png


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """Two classes of 24 distinct images; 8 per class get one or two near copies (brightened), and one
    image is filed under both classes (an exact cross-class duplicate)."""
    root = tmp_path / "data"
    for c, cls in enumerate(("benign", "malignant")):
        for i in range(24):
            img = pattern(100 * c + i)
            save_png(root / cls / f"{i}.png", img)
            for k in range(1 + i % 2 if i < 8 else 0):
                save_png(root / cls / f"{i}_copy{k}.png", np.clip(img.astype(int) + 2 + 2 * k, 0, 255).astype(np.uint8))
    save_png(root / "malignant" / "filed_twice.png", pattern(20))  # benign/20.png again
    return root


def arm(root: Path, ctx, twins: str) -> ImageFolderData:
    dm = ImageFolderData(ImageFolderParams(root=root, image_size=16, near_duplicate_distance=4,
                                           split={"val": 0.2, "test": 0.25, "twins": twins}), ctx(seed=3))
    dm.setup()
    return dm


def test_both_arms_share_the_test_set_and_only_the_leaky_one_trains_on_twins(tree, ctx):
    held, leaky = arm(tree, ctx, "held_out"), arm(tree, ctx, "in_train")
    rec_h, rec_l = held.split_record(), leaky.split_record()
    assert rec_h["splits"]["test"] == rec_l["splits"]["test"]
    assert rec_h["splits"]["val"] == rec_l["splits"]["val"]
    cross = sorted(r["image"] for r in rec_h["dropped"] if r["reason"] == "cross-class duplicate")
    assert cross == ["benign/20.png", "malignant/filed_twice.png"]
    assert cross == sorted(r["image"] for r in rec_l["dropped"] if r["reason"] == "cross-class duplicate")
    twins = set(rec_h["twins"]["twins"])
    assert twins and twins == set(rec_l["twins"]["twins"])
    assert not twins & set(rec_h["splits"]["train"]) and twins <= set(rec_l["splits"]["train"])
    replaced = set(rec_l["twins"]["replaced"])
    assert len(replaced) == len(twins) and replaced <= set(rec_h["splits"]["train"])
    # the test images with a twin in training: none when held out, every test group's image when leaky
    for dm, expected in ((held, 0), (leaky, rec_l["twins"]["test_groups"])):
        train_groups = {dm.group_of[i] for i in dm.split_record()["splits"]["train"]}
        assert sum(dm.group_of[i] in train_groups for i in dm.split_record()["splits"]["test"]) == expected
    assert rec_l["twins"]["test_groups"] > 0
    # the same number of training images per class; the record says so
    assert rec_h["counts"]["train"] == rec_l["counts"]["train"]
    assert rec_h["twins"]["train_images"] == rec_l["twins"]["train_images"] == len(rec_h["splits"]["train"])
    assert rec_l["duplicates"]["straddling"] and not rec_h["duplicates"]["straddling"]


def test_grouped_split_and_the_summary_by_split(tree, ctx):
    dm = arm(tree, ctx, "grouped")
    rec = dm.split_record()
    assert rec["twins"] is None and rec["duplicates"]["straddling"] == []
    by = rec["duplicates"]["by_split"]
    grouped = sum(len(r["images"]) for r in rec["duplicates"]["list"] if r["action"] == "grouped")
    assert sum(by[s]["images_in_groups"] for s in ("train", "val", "test")) == by["all"]["images_in_groups"] == grouped
    assert by["all"]["groups"] == sum(by[s]["groups"] for s in ("train", "val", "test")) >= 12
    assert sum(by[s]["images"] for s in ("train", "val", "test")) == by["all"]["images"] == len(dm.items)
    assert Counter(dm.assignment.values())["test"] == by["test"]["images"]
