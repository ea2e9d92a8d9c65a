"""The real BUSI release (skipped without $SHARPREG_DATA): counts, masks, the cross-class duplicate,
duplicate groups kept whole, and the lesion crop. Small image sizes and no training."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from sharpreg.data.io import lesion_box, read_image, read_mask
from sharpreg.data.module import DataContext
from sharpreg.data.splits import check_no_straddle
from sharpreg_plugins.datasets.busi import BusiData, BusiParams

pytestmark = pytest.mark.data
ALL = ["benign", "malignant", "normal"]
PAIR = ("benign/benign (433).png", "malignant/malignant (145).png")


def busi(real: Path, **kw) -> BusiData:
    dm = BusiData(BusiParams(**{"image_size": 32, **kw}), DataContext(seed=0, data_home=real))
    dm.setup()
    return dm


@pytest.fixture(scope="module")
def kept(real_data: Path) -> BusiData:
    return busi(real_data, classes=ALL, cross_class_duplicates="keep")


def test_780_images_437_210_133_every_mask_found(kept: BusiData, real_data: Path):
    assert kept.found == {"benign": 437, "malignant": 210, "normal": 133}
    assert len(kept.items) == 780
    masks = [m for it in kept.items for m in it.extra["masks"]]
    assert len(masks) == 798 == len(list(real_data.glob("busi/*/*_mask*.png")))
    assert sum(len(it.extra["masks"]) > 1 for it in kept.items) == 17
    assert kept.masks_of("benign/benign (195).png")[-1].endswith("benign (195)_mask_2.png")


def test_cross_class_duplicate_detected_and_policy(kept: BusiData, real_data: Path):
    exact = [g for g in kept.duplicate_records if g["kind"] == "exact"]
    assert [sorted(g["images"]) for g in exact] == [list(PAIR)]
    assert exact[0]["cross_class"] and exact[0]["action"] == "grouped"
    assert kept.assignment[PAIR[0]] == kept.assignment[PAIR[1]]
    dropped = busi(real_data)  # default: drop, two classes
    ids = {it.id for it in dropped.items}
    assert not ids & set(PAIR)
    assert {r["image"] for r in dropped.dropped} >= set(PAIR)
    assert len(ids) + len(dropped.dropped) == 647


@pytest.mark.parametrize("split", [{"method": "stratified"}, {"method": "kfold", "folds": 5, "fold": 2}])
def test_no_duplicate_group_straddles_splits(kept: BusiData, real_data: Path, split):
    dm = busi(real_data, classes=ALL, cross_class_duplicates="keep", split=split)
    assert len(dm.duplicate_records) > 100  # BUSI has well over a hundred near-duplicate groups
    for g in dm.duplicate_records:
        assert len({dm.assignment[i] for i in g["images"]}) == 1, g
    groups = [dm.group_of[it.id] for it in dm.items]
    assert check_no_straddle(groups, [dm.assignment[it.id] for it in dm.items]) == []
    totals = Counter(dm.assignment.values())
    expected_test = 0.15 if split["method"] == "stratified" else 0.2
    assert abs(totals["test"] / 780 - expected_test) < 0.02


def test_summary_lists_every_image_once(kept: BusiData):
    s = kept.summary(images=True)
    listed = [i for split in ("train", "val", "test") for i in s["images"][split]]
    assert sorted(listed) == sorted(it.id for it in kept.items)
    assert s["duplicates"]["straddling"] == []
    assert s["source_sizes"]["width"]["min"] == 190 and s["source_sizes"]["width"]["max"] == 1048


def test_merged_masks_and_lesion_crop(real_data: Path):
    folder = real_data / "busi" / "benign"
    m0 = read_mask([folder / "benign (195)_mask.png"])
    merged = read_mask(sorted(folder.glob("benign (195)_mask*.png")))
    assert merged.sum() > m0.sum() and (merged | m0).sum() == merged.sum()
    box = lesion_box(merged, 0.1)
    assert box is not None
    y0, y1, x0, x1 = box
    ys, xs = np.nonzero(merged)
    assert y0 <= ys.min() and ys.max() < y1 and x0 <= xs.min() and xs.max() < x1
    dm = busi(real_data, crop="lesion", crop_margin=0.1, split={"method": "all"})
    rec = next(r for r in dm._records("test") if r["id"] == "benign/benign (1).png")
    from sharpreg.data.io import LoadImageFiled

    out = LoadImageFiled(["image"], crop_margin=0.1)(rec)
    assert "masks" not in out
    y0, y1, x0, x1 = lesion_box(read_mask(rec["masks"]), 0.1)
    full = read_image(rec["image"])
    assert out["image"].shape[1:] == (y1 - y0, x1 - x0) and y1 - y0 == x1 - x0  # square
    assert (y1 - y0) * (x1 - x0) < full.shape[0] * full.shape[1] / 2
    assert np.array_equal(out["image"][0], full[y0:y1, x0:x1, 0].astype(np.float32))


def test_small_pipeline_runs(real_data: Path):
    dm = busi(real_data, image_size=24, split={"method": "stratified", "val": 0.05, "test": 0.05})
    ds = dm.dataset("val")
    x = ds[0]
    assert tuple(x["image"].shape) == (1, 24, 24) and x["label"] in (0, 1)


def test_busi_small_recipe_summary_is_honest(real_data: Path, capsys):
    import json

    from sharpreg.cli import main

    recipe = Path(__file__).parents[2] / "recipes" / "busi_small.toml"
    assert main(["data", "summary", str(recipe), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["found"] == {"benign": 437, "malignant": 210}
    assert s["duplicates"]["straddling"] == [] and s["duplicates"]["checked"]
    assert set(PAIR) <= {r["image"] for r in s["dropped"]}
    listed = [i for split in ("train", "val", "test") for i in s["images"][split]]
    assert len(listed) == len(set(listed)) == sum(s["used"].values()) == 647 - len(s["dropped"])


def test_near_duplicates_are_in_test_in_proportion(real_data: Path):
    by = busi(real_data, split={"method": "stratified", "test": 0.2}).summary()["duplicates"]["by_split"]
    assert by["all"]["share"] > 0.3  # at 10 bits, about 40 % of the images have a near-duplicate
    assert abs(by["test"]["share"] - by["all"]["share"]) < 0.15  # the old splitter put about 1 % in test


def test_leakage_ablation_arms_on_busi(real_data: Path):
    arms = {m: busi(real_data, split={"method": "stratified", "test": 0.2, "twins": m}).split_record()
            for m in ("held_out", "in_train")}
    held, leaky = arms["held_out"], arms["in_train"]
    assert held["splits"]["test"] == leaky["splits"]["test"] and held["splits"]["val"] == leaky["splits"]["val"]
    cross = [sorted(r["image"] for r in a["dropped"] if r["reason"] == "cross-class duplicate") for a in (held, leaky)]
    assert cross[0] == cross[1] and len(cross[0]) == 14
    twins = set(held["twins"]["twins"])
    assert len(twins) > 10 and not twins & set(held["splits"]["train"]) and twins <= set(leaky["splits"]["train"])
    assert held["counts"]["train"] == leaky["counts"]["train"]
