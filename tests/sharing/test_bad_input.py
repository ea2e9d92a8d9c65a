"""Bad input when sharing: one clear line naming what is wrong, exit 2, no traceback, nothing written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sharpreg.cli import main
from sharpreg.registry import set_default_registry

ROOT = Path(__file__).resolve().parents[2]
OLD_RUN = ROOT / "tests" / "runs" / "fixtures" / "main-4d9bc07"
PHANTOM = """schema_version = 1
[data]
name = "phantom"
per_class = 6
native_size = 16
image_size = 16
[model]
name = "timm"
arch = "test_resnet"
[optimizer]
name = "sgd"
[train]
epochs = 1
device = "cpu"
"""


@pytest.fixture(autouse=True)
def _fresh_registry() -> None:
    set_default_registry(None)
    yield
    set_default_registry(None)


def one_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def test_a_malformed_fingerprint_in_a_recipe(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recipe = tmp_path / "r.toml"
    recipe.write_text(PHANTOM.replace("image_size = 16", 'image_size = 16\nfingerprint = "sha256:12ab"'))
    assert main(["check", str(recipe)]) == 2
    assert "r.toml:7 data.fingerprint: Value error, must be 'sha256:' followed by 64 lower-case hex digits" in one_error(capsys)


def test_the_data_and_its_pinned_fingerprint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recipe = tmp_path / "r.toml"
    recipe.write_text(PHANTOM)
    assert main(["data", "fingerprint", str(recipe)]) == 0
    printed = capsys.readouterr()
    fp = printed.out.strip()
    assert fp.startswith("sha256:") and "12 images: benign 6, malignant 6" in printed.err
    assert main(["data", "fingerprint", str(recipe), "--set", "data.per_class=7"]) == 0
    assert capsys.readouterr().out.strip() != fp  # other images, another fingerprint
    pinned = tmp_path / "pinned.toml"
    pinned.write_text(PHANTOM.replace("image_size = 16", f'image_size = 16\nfingerprint = "{fp}"'))
    assert main(["check", str(pinned)]) == 0
    assert main(["run", str(pinned), "--set", "data.per_class=7", "--out", str(tmp_path / "run")]) == 2
    err = one_error(capsys)
    assert "the local data is not the data this recipe was made with" in err and not (tmp_path / "run").exists()


def test_split_file_written_without_training_and_reused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recipe = tmp_path / "r.toml"
    recipe.write_text(PHANTOM)
    split = tmp_path / "s.json"
    assert main(["data", "split", str(recipe), "-o", str(split)]) == 0
    record = json.loads(split.read_text())
    assert record["format"] == "sharpreg-split" and len(record["items"]) == 12
    assert main(["data", "split", str(recipe), "-o", str(split)]) == 2  # never overwritten silently
    assert "already exists" in one_error(capsys)
    reuse = ["--set", 'data.split.method="file"', "--set", f"data.split.file={json.dumps(str(split))}"]
    assert main(["check", str(recipe), *reuse]) == 0
    split.write_text("{not json")
    assert main(["check", str(recipe), *reuse]) == 2
    assert f"{split} is not a sharpreg split file (not JSON" in one_error(capsys)


def test_an_exported_recipe_whose_split_file_is_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recipe = tmp_path / "r.toml"
    recipe.write_text(PHANTOM.replace("image_size = 16", 'image_size = 16\nsplit = { method = "file", file = "gone.split.json" }'))
    assert main(["run", str(recipe), "--out", str(tmp_path / "run")]) == 2
    err = one_error(capsys)
    assert f"split file {tmp_path / 'gone.split.json'} not found" in err and not (tmp_path / "run").exists()
    assert main(["check", str(recipe)]) == 2


def test_export_needs_a_finished_run_with_a_content_split(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = Path(shutil.copytree(OLD_RUN, tmp_path / "old"))
    assert main(["export", str(old), "-o", str(tmp_path / "x.toml")]) == 2
    assert "lists no images by content (a run of an older sharpreg?)" in one_error(capsys)
    assert not list(tmp_path.glob("x*"))
    (old / "summary.json").unlink()
    assert main(["export", str(old), "-o", str(tmp_path / "x.toml")]) == 2
    assert "has not finished" in one_error(capsys)


def test_a_plugin_of_a_distribution_not_installed_names_the_pip_command(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    recipe = tmp_path / "r.toml"
    recipe.write_text(PHANTOM + '[sharpness]\nname = "sharpreg-fisher:fisher_sam"\n')
    assert main(["check", str(recipe)]) == 2
    assert ("sharpness.name: unknown rule 'sharpreg-fisher:fisher_sam': the distribution 'sharpreg-fisher' that "
            "provides it is not installed; install it with: pip install sharpreg-fisher") in one_error(capsys)


def test_a_lock_that_names_a_file_elsewhere(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recipe = tmp_path / "r.toml"
    recipe.write_text(PHANTOM + '[lock]\nsplit_file = "../../etc/split.json"\n')
    assert main(["check", str(recipe)]) == 2
    assert "lock.split_file: Value error, must be a file name beside the recipe (no folders)" in one_error(capsys)
