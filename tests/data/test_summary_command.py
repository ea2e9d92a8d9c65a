"""``sharpreg data summary``: the text table, --json with every image under its split, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sharpreg.cli import main

from .conftest import busi_tree

RECIPE = """schema_version = 1
[data]
name = "busi"
root = "data"
image_size = 16
[data.split]
val = 0.25
test = 0.25
[model]
name = "timm"
arch = "resnet10t"
[optimizer]
name = "adam"
[sharpness]
name = "none"
"""


@pytest.fixture
def recipe(tmp_path: Path, ctx) -> Path:
    busi_tree(tmp_path / "data", {"benign": 8, "malignant": 8})
    (tmp_path / "r.toml").write_text(RECIPE)
    return tmp_path / "r.toml"


def test_text_summary(recipe: Path, capsys):
    assert main(["data", "summary", str(recipe)]) == 0
    out = capsys.readouterr().out
    assert "benign" in out and "groups straddling splits: 0" in out
    by_split = out[out.index("images in groups of two or more, by split"):].splitlines()[1:5]
    assert [line.split()[0] for line in by_split] == ["train", "val", "test", "all"]
    total = next(line for line in out.splitlines() if line.startswith("total"))
    assert total.split()[1:] == ["16", "16", "8", "4", "4"]


def test_json_lists_every_image_once(recipe: Path, capsys):
    assert main(["data", "summary", str(recipe), "--json", "--set", "data.split.method='kfold'",
                 "--set", "data.split.folds=4"]) == 0
    s = json.loads(capsys.readouterr().out)
    listed = [i for split in ("train", "val", "test") for i in s["images"][split]]
    assert len(listed) == len(set(listed)) == 16
    assert "benign/benign (1).png" in listed
    assert s["split"]["method"] == "kfold" and s["totals"]["test"] == 4


def test_missing_data_is_one_clear_error(recipe: Path, capsys):
    assert main(["data", "summary", str(recipe), "--set", "data.root='elsewhere'"]) == 2
    err = capsys.readouterr().err
    assert "elsewhere not found" in err and "expected layout" in err and "Traceback" not in err
