"""image_folder: class trees and CSVs with labels, groups (patients), folds and predefined splits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sharpreg_plugins.datasets.image_folder import ImageFolderData, ImageFolderParams

from .conftest import pattern, save_png


def test_class_tree_labels_and_order(tmp_path, ctx):
    for cls, seeds in {"malignant": range(5), "benign": range(10, 16)}.items():
        for s in seeds:
            save_png(tmp_path / cls / f"sub/{s}.png" if s == 0 else tmp_path / cls / f"{s}.png", pattern(s))
    (tmp_path / "benign" / "notes.txt").write_text("not an image")
    dm = ImageFolderData(ImageFolderParams(root=tmp_path, image_size=16, split={"method": "all"}), ctx())
    dm.setup()
    assert dm.class_names == ["benign", "malignant"]  # sorted by name
    assert dm.found == {"benign": 6, "malignant": 5}
    assert "malignant/sub/0.png" in {it.id for it in dm.items}
    dm2 = ImageFolderData(ImageFolderParams(root=tmp_path, image_size=16, classes=["malignant", "benign"],
                                            split={"method": "all"}), ctx())
    dm2.setup()
    assert dm2.class_names == ["malignant", "benign"]
    assert sorted(dm2.labels("test").tolist()) == [0] * 5 + [1] * 6
    hashes = [dm2.content.hashes[it.id] for it in dm2.items_of("test")]
    assert hashes == sorted(hashes)  # in content order, not folder order
    x = dm2.dataset("test")[0]
    assert tuple(x["image"].shape) == (1, 16, 16) and float(x["image"].min()) >= 0 and float(x["image"].max()) <= 1


def csv_dataset(root: Path, n_patients: int = 12, per_patient: int = 3) -> Path:
    """Patients with several images each; label by patient; folds by patient; a split column."""
    rows = ["file,label,patient,fold,split"]
    k = 0
    for p in range(n_patients):
        label = "malignant" if p % 3 == 0 else "benign"
        for j in range(per_patient):
            k += 1
            save_png(root / "images" / f"p{p}_{j}.png", pattern(1000 + k))
            split = "test" if p % 4 == 0 else ("val" if p % 4 == 1 else "train")
            rows.append(f"images/p{p}_{j}.png,{label},P{p},{p % 4},{split}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return root


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_csv_groups_never_straddle(tmp_path, ctx, seed):
    csv_dataset(tmp_path)
    dm = ImageFolderData(ImageFolderParams(root=tmp_path, csv="labels.csv", group_column="patient", image_size=16,
                                           split={"val": 0.2, "test": 0.2}), ctx(seed=seed))
    dm.setup()
    by_patient: dict[str, set[str]] = {}
    for it in dm.items:
        by_patient.setdefault(it.id.split("_")[0], set()).add(dm.assignment[it.id])
    assert all(len(v) == 1 for v in by_patient.values())
    assert {s for v in by_patient.values() for s in v} == {"train", "val", "test"}
    assert dm.class_names == ["benign", "malignant"]


def test_csv_predefined_folds(tmp_path, ctx):
    csv_dataset(tmp_path)
    for fold in range(4):
        dm = ImageFolderData(ImageFolderParams(root=tmp_path, csv="labels.csv", group_column="patient",
                                               fold_column="fold", image_size=16,
                                               split={"method": "kfold", "folds": 4, "fold": fold, "val": 0.25}), ctx())
        dm.setup()
        test = {it.id for it in dm.items_of("test")}
        expected = {f"images/p{p}_{j}.png" for p in range(12) if p % 4 == fold for j in range(3)}
        assert test == expected
        val_patients = {i.split("_")[0] for i in (it.id for it in dm.items_of("val"))}
        train_patients = {i.split("_")[0] for i in (it.id for it in dm.items_of("train"))}
        assert val_patients and train_patients and not (val_patients & train_patients)
    bad = ImageFolderData(ImageFolderParams(root=tmp_path, csv="labels.csv", fold_column="fold", image_size=16,
                                            split={"method": "kfold", "folds": 5, "fold": 4}), ctx())
    with pytest.raises(Exception, match=r"fold = 4 is not one of the data set's 4 predefined folds"):
        bad.setup()


def test_csv_predefined_split_column(tmp_path, ctx):
    csv_dataset(tmp_path)
    dm = ImageFolderData(ImageFolderParams(root=tmp_path, csv="labels.csv", split_column="split", image_size=16,
                                           split={"method": "predefined"}), ctx())
    dm.setup()
    assert dm.summary()["totals"] == {"train": 18, "val": 9, "test": 9}


def test_kfold_without_fold_column_covers_everything_once(tmp_path, ctx):
    csv_dataset(tmp_path)
    seen: list[str] = []
    for fold in range(3):
        dm = ImageFolderData(ImageFolderParams(root=tmp_path, csv="labels.csv", group_column="patient", image_size=16,
                                               split={"method": "kfold", "folds": 3, "fold": fold, "val": 0.0}), ctx())
        dm.setup()
        seen += [it.id for it in dm.items_of("test")]
    assert sorted(seen) == sorted(it.id for it in dm.items)


def test_near_duplicates_grouped_across_classes_and_kept_together(tmp_path, ctx):
    base = [pattern(s) for s in range(40)]
    for i, img in enumerate(base):
        save_png(tmp_path / ("a" if i % 2 else "b") / f"{i}.png", img)
    # an exact copy in the same class, and a slightly brightened copy (near-duplicate) in the same class
    save_png(tmp_path / "a" / "1_copy.png", base[1])
    save_png(tmp_path / "a" / "1_bright.png", np.clip(base[1].astype(int) + 3, 0, 255).astype(np.uint8))
    for seed in range(4):
        dm = ImageFolderData(ImageFolderParams(root=tmp_path, image_size=16, split={"val": 0.2, "test": 0.2}),
                             ctx(seed=seed))
        dm.setup()
        groups = dm.summary()["duplicates"]["list"]
        ours = [g for g in groups if "a/1.png" in g["images"]]
        assert len(ours) == 1 and set(ours[0]["images"]) >= {"a/1.png", "a/1_copy.png", "a/1_bright.png"}
        assert len({dm.assignment[i] for i in ours[0]["images"]}) == 1
        assert all(len(g["splits"]) == (g["action"] != "dropped") for g in groups)  # dropped: in none
