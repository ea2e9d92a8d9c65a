"""Acceptance: a recipe travels from lab A to lab B, as two labs would use it (generated images, tiny model, CPU).

Lab A trains with a plugin from its own package and exports the run. Lab B holds the same images under other
names, losslessly re-encoded (PNG at another compression, TIFF, BMP) and in another folder order. Running the
exported recipe there gives the identical split and bit-identical test metrics and weights. A missing or
relabelled image stops lab B with exit 2 naming it; a clashing plugin installed at lab B does not break the
exported recipe; a different version of lab A's plugin package is reported (an error with --strict).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from sharpreg.cli import main
from sharpreg.registry import set_default_registry

from ..core.conftest import make_dist
from ..data.conftest import pattern

pytestmark = pytest.mark.slow

LAB_TOOLS = '''
import torch
from sharpreg import OptimizerParams, OptimizerSpec, hookimpl


class Params(OptimizerParams):
    pass


@hookimpl
def sharpreg_optimizers():
    return [OptimizerSpec("plain_sgd", Params, lambda groups, p: torch.optim.SGD(groups, lr=p.lr), "SGD, lab A's own")]
'''

CLASH = '''
from sharpreg import OptimizerParams, OptimizerSpec, RuleParams, RuleSpec, hookimpl


class Params(OptimizerParams):
    pass


class RParams(RuleParams):
    pass


@hookimpl
def sharpreg_optimizers():
    return [OptimizerSpec("plain_sgd", Params, lambda groups, p: None, "another plain_sgd")]


@hookimpl
def sharpreg_sharpness_rules():
    return [RuleSpec("sam", RParams, lambda p: None, "another sam")]
'''

RECIPE = """schema_version = 1
[meta]
name = "lab-a"
intended_use = "testing that recipes travel"
data_source = "generated patterns"
[data]
name = "image_folder"
root = "images"
image_size = 32
[data.split]
val = 0.25
test = 0.25
seed = 1
[model]
name = "timm"
arch = "test_resnet"
[optimizer]
name = "plain_sgd"
lr = 0.05
[sharpness]
name = "sam"
[train]
epochs = 2
batch_size = 4
max_steps_per_epoch = 3
device = "cpu"
seed = 3
[eval]
bootstrap = 20
"""


def lab_a_images(root: Path) -> dict[str, np.ndarray]:
    """12 distinct images per class, named by class folder and number."""
    images = {}
    for c, cls in enumerate(("benign", "malignant")):
        for i in range(12):
            images[f"{cls}/{i}.png"] = pattern(100 * c + i, (36, 40))
    for name, a in images.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(a).save(root / name)
    return images


def lab_b_copy(images: dict[str, np.ndarray], root: Path) -> dict[str, str]:
    """The same pixels under other names, in other sub-folders, in three lossless formats; A's name -> B's."""
    names = {}
    for n, (name, a) in enumerate(reversed(images.items())):
        cls = name.split("/")[0]
        suffix, options = [(".png", {"compress_level": 9}), (".tif", {"compression": "tiff_lzw"}), (".bmp", {})][n % 3]
        new = f"{cls}/batch{n % 2}/scan_{(7 * n) % 31:02d}{suffix}"
        (root / new).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(a).save(root / new, **options)
        names[name] = new
    return names


def items(run: Path) -> list[tuple[str, str, str | None]]:
    return [(i["hash"], i["class"], i["split"]) for i in json.loads((run / "split.json").read_text())["items"]]


def test_a_recipe_travels_between_labs(site: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_dist(site, "sharpreg-labtools", "1.0", {"labtools": "sr_test_labtools"}, {"sr_test_labtools": LAB_TOOLS})
    set_default_registry(None)
    lab_a, lab_b = tmp_path / "lab_a", tmp_path / "lab_b"
    images = lab_a_images(lab_a / "images")
    (lab_a / "recipe.toml").write_text(RECIPE)
    assert main(["run", str(lab_a / "recipe.toml"), "--out", str(lab_a / "run"), "--no-progress"]) == 0
    card = (lab_a / "run" / "MODEL_CARD.md").read_text()
    fingerprint = json.loads((lab_a / "run" / "split.json").read_text())["fingerprint"]
    assert fingerprint in card and "testing that recipes travel" in card and "sharpreg-labtools" in card
    shared = lab_b / "from_a" / "lab-a.toml"
    assert main(["export", str(lab_a / "run"), "-o", str(shared)]) == 0
    exported = shared.read_text()
    assert 'name = "sharpreg-labtools:plain_sgd"' in exported and '"sharpreg-labtools>=1.0"' in exported
    assert f'fingerprint = "{fingerprint}"' in exported and str(lab_a) not in exported  # A's paths stay at A
    names = lab_b_copy(images, lab_b / "scans")
    root = [f"--set", f"data.root={json.dumps(str(lab_b / 'scans'))}"]
    capsys.readouterr()

    # lab B: the same data under other names and encodings -> the same split, bit-identical results
    assert main(["check", "--strict", str(shared), *root]) == 0
    assert "the local data matches" in capsys.readouterr().out
    assert main(["run", str(shared), *root, "--out", str(lab_b / "run"), "--no-progress"]) == 0
    assert items(lab_b / "run") == items(lab_a / "run")
    summary_a, summary_b = (json.loads((lab / "run" / "summary.json").read_text()) for lab in (lab_a, lab_b))
    assert summary_b["test"] == summary_a["test"] and summary_b["test_ci"] == summary_a["test_ci"]
    weights_a, weights_b = (load_file(lab / "run" / "model.safetensors") for lab in (lab_a, lab_b))
    assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)
    capsys.readouterr()

    # a clashing plugin at lab B breaks the bare name, not the exported recipe
    make_dist(site, "sharpreg-clash", "2.0", {"clash": "sr_test_clash"}, {"sr_test_clash": CLASH})
    set_default_registry(None)
    assert main(["check", str(lab_a / "recipe.toml")]) == 2
    assert "is provided by" in capsys.readouterr().err
    assert main(["check", "--strict", str(shared), *root]) == 0
    capsys.readouterr()

    # another version of lab A's package: reported, and an error with --strict
    info = site / "sharpreg_labtools-1.0.dist-info"
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: sharpreg-labtools\nVersion: 1.1\n")
    set_default_registry(None)
    assert main(["check", str(shared), *root]) == 0
    assert "distribution sharpreg-labtools 1.0 ran this recipe, 1.1 is installed" in capsys.readouterr().err
    assert main(["check", "--strict", str(shared), *root]) == 2
    assert "sharpreg-labtools 1.0 ran this recipe" in capsys.readouterr().err

    # lab B misses one image, or holds one under another class: exit 2 naming it, nothing written
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: sharpreg-labtools\nVersion: 1.0\n")
    set_default_registry(None)
    gone = lab_b / "scans" / names["malignant/5.png"]
    moved = gone.read_bytes()
    gone.unlink()
    assert main(["run", str(shared), *root, "--out", str(lab_b / "run2"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "1 missing (malignant/5.png)" in err and "Traceback" not in err and not (lab_b / "run2").exists()
    gone.write_bytes(moved)
    relabelled = lab_b / "scans" / names["benign/2.png"]
    target = lab_b / "scans" / "malignant" / relabelled.name
    relabelled.rename(target)
    assert main(["check", str(shared), *root]) == 2
    assert f"1 relabelled (malignant/{target.name}: benign there, malignant here)" in capsys.readouterr().err
    target.rename(relabelled)

    # lab B tests lab A's model on its own data without the run folder; a swapped model file is reported
    other = lab_b / "scans.toml"
    other.write_text(f'schema_version = 1\n[data]\nname = "image_folder"\nroot = "scans"\n')
    assert main(["evaluate", str(shared), "--data", str(other)]) == 0
    record = json.loads((lab_b / "from_a" / "lab-a-evaluations" / "scans" / "metrics.json").read_text())
    assert record["n"] == len(images) and record["metrics"]["auroc"] is not None
    model = lab_b / "from_a" / "lab-a.safetensors"
    shutil.copyfile(lab_b / "run" / "model.safetensors", model)  # the same weights, other metadata
    capsys.readouterr()
    assert main(["evaluate", "--strict", str(shared), "--data", str(other)]) == 2
    assert "the model file lab-a.safetensors is not the exported one" in capsys.readouterr().err
