"""The recipe language: every error class with its file, line and key; --set; extends; requires."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import tomli_w

from sharpreg.errors import RecipeError
from sharpreg.recipe import load_recipe, parse_override
from sharpreg.registry import Registry

GOOD = """\
schema_version = 1

[data]
name = "phantom"
image_size = 32

[model]
name = "timm"
arch = "resnet10t"

[optimizer]
name = "adam"
lr = 0.001

[sharpness]
name = "none"

[train]
epochs = 2
"""


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.discover(strict=False)


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def write(name: str, text: str) -> Path:
    path = Path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def issues_of(path: Path, registry: Registry, overrides: list[str] | None = None) -> list[str]:
    with pytest.raises(RecipeError) as info:
        load_recipe(path, overrides or [], registry=registry)
    return [str(i) for i in info.value.issues]


def test_good_recipe_validates_with_defaults_filled(registry: Registry) -> None:
    recipe = load_recipe(write("good.toml", GOOD), registry=registry)
    assert recipe.name == "good"
    assert recipe.optimizer.params.lr == 0.001
    resolved = recipe.resolved()
    assert resolved["optimizer"]["beta2"] == 0.999
    assert resolved["data"]["split"]["group_duplicates"] is True
    assert resolved["train"]["epochs"] == 2 and "clip_grad_norm" not in resolved["train"]


def test_sharpness_table_defaults_to_none(registry: Registry) -> None:
    text = GOOD.replace('[sharpness]\nname = "none"\n', "")
    assert load_recipe(write("r.toml", text), registry=registry).sharpness.name == "none"


def test_every_error_reported_at_once_with_file_line_key(registry: Registry) -> None:
    text = GOOD.replace("image_size = 32", "image_size = 4\ncolour = 1").replace('"adam"', '"adma"')
    text = text.replace("epochs = 2", "epochs = 0\nbatch_size = \"big\"")
    text += "\n[data.split]\nvall = 0.2\n"
    got = issues_of(write("recipes/bad.toml", text), registry)
    f = os.path.join("recipes", "bad.toml")
    assert got == [
        f"{f}:5 data.image_size: Input should be greater than or equal to 8",
        f"{f}:6 data.colour: unknown key; known keys: augment, cache, channels, classes, fingerprint, generator_seed, image_size, "
        "name, native_size, noise, normalize, per_class, split.",
        f"{f}:13 optimizer.name: unknown optimizer 'adma'; did you mean 'adam' or 'adamw'? Installed optimizers: adam, adamw, sgd.",
        f"{f}:20 train.epochs: Input should be greater than or equal to 1",
        f"{f}:21 train.batch_size: Input should be a valid integer, unable to parse string as an integer",
        f"{f}:24 data.split.vall: unknown key; did you mean 'val'? Known keys: file, fold, folds, group_duplicates, method, seed, test, twins, unlisted, val.",
    ]


def test_toml_syntax_error_has_line(registry: Registry) -> None:
    got = issues_of(write("s.toml", GOOD.replace("lr = 0.001", "lr = = 1")), registry)
    assert len(got) == 1 and got[0].startswith("s.toml:13: TOML syntax error")


def test_top_level_problems(registry: Registry) -> None:
    text = GOOD.replace("schema_version = 1\n", "").replace("[train]", "[trian]")
    got = issues_of(write("t.toml", text), registry)
    assert "t.toml schema_version: missing; put `schema_version = 1` at the top of the recipe" in got
    assert any(g.startswith("t.toml:17 trian: unknown top-level key or table; did you mean 'train'?") for g in got)
    got = issues_of(write("v.toml", GOOD.replace("schema_version = 1", "schema_version = 7")), registry)
    assert got == ["v.toml:1 schema_version: unsupported schema_version 7; this sharpreg reads schema_version = 1"]


def test_missing_table_and_missing_name(registry: Registry) -> None:
    text = GOOD.replace('[model]\nname = "timm"\narch = "resnet10t"\n', "").replace('name = "adam"\n', "")
    got = issues_of(write("m.toml", text), registry)
    assert any(g.startswith("m.toml model: missing table [model]; add it with name = one of: ") and "timm" in g for g in got)
    assert any(g.startswith("m.toml:8 optimizer.name: missing; set name = one of: adam, adamw, sgd") for g in got)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sharpness.rho=0.1", (("sharpness", "rho"), 0.1)),
        ("train.epochs=3", (("train", "epochs"), 3)),
        ("train.deterministic=false", (("train", "deterministic"), False)),
        ('data.classes=["benign", "normal"]', (("data", "classes"), ["benign", "normal"])),
        ("model.arch=resnet18", (("model", "arch"), "resnet18")),
        ('model.arch="vit_tiny_patch16_224"', (("model", "arch"), "vit_tiny_patch16_224")),
        ("data.split.val = 0.25", (("data", "split", "val"), 0.25)),
    ],
)
def test_set_values_are_toml_literals(text: str, expected: tuple) -> None:
    assert parse_override(text) == expected


def test_set_overrides_go_through_validation(registry: Registry) -> None:
    path = write("o.toml", GOOD)
    recipe = load_recipe(path, ["train.epochs=5", "data.split.val=0.3", "optimizer.name=sgd"], registry=registry)
    assert recipe.train.epochs == 5 and recipe.data.params.split.val == 0.3 and recipe.optimizer.name == "sgd"
    got = issues_of(path, registry, ["train.epochs=many", "optimizer.lr=-1"])
    assert got == [
        "--set train.epochs=many train.epochs: Input should be a valid integer, unable to parse string as an integer",
        "--set optimizer.lr=-1 optimizer.lr: Input should be greater than 0",
    ]
    got = issues_of(path, registry, ["nonsense"])
    assert got == ["--set nonsense: 'nonsense' is not of the form TABLE.KEY=VALUE (e.g. sharpness.rho=0.1)"]


def test_extends_merges_tables_replaces_arrays_and_resolves_paths(registry: Registry) -> None:
    write("base/base.toml", GOOD.replace('arch = "resnet10t"', 'arch = "resnet10t"\npretrained_file = "weights/w.safetensors"')
          + '\n[meta]\ntags = ["a", "b"]\ndescription = "base"\n')
    child = write("exp/child.toml", 'extends = "../base/base.toml"\n[optimizer]\nlr = 0.01\n[meta]\ntags = ["c"]\n')
    recipe = load_recipe(child, registry=registry)
    assert recipe.optimizer.name == "adam" and recipe.optimizer.params.lr == 0.01  # table merged
    assert recipe.meta.tags == ["c"] and recipe.meta.description == "base"  # array replaced
    assert recipe.model.params.pretrained_file == (Path("base") / "weights" / "w.safetensors").resolve()
    assert recipe.name == "child"
    # errors point at the file that set the value
    write("exp/bad_child.toml", 'extends = "../base/base.toml"\n[train]\nepochs = -1\n')
    got = issues_of(Path("exp/bad_child.toml"), registry)
    assert got == [f"{os.path.join('exp', 'bad_child.toml')}:3 train.epochs: Input should be greater than or equal to 1"]
    write("exp/bad_base.toml", 'extends = "../base/base.toml"\n[model]\narch = 5\n')
    assert issues_of(Path("exp/bad_base.toml"), registry)[0].endswith("model.arch: Input should be a valid string")


def test_extends_cycle_and_missing_parent(registry: Registry) -> None:
    write("a.toml", 'extends = "b.toml"\n' + GOOD)
    write("b.toml", 'extends = "a.toml"\n')
    got = issues_of(Path("a.toml"), registry)
    assert len(got) == 1 and "extends cycle: " in got[0] and "a.toml -> b.toml -> " in got[0]
    write("c.toml", 'extends = "nowhere.toml"\n' + GOOD)
    assert issues_of(Path("c.toml"), registry) == ["c.toml:1 extends: 'nowhere.toml' not found (looked at nowhere.toml)"]


def test_requires_checked_before_anything(registry: Registry) -> None:
    ok = write("ok.toml", 'requires = ["sharpreg>=0.1", "pydantic>=2"]\n' + GOOD)
    assert load_recipe(ok, registry=registry).requires == ["sharpreg>=0.1", "pydantic>=2"]
    bad = write("req.toml", 'requires = ["sharpreg-fisher-sam>=0.2", "sharpreg>=99"]\n' + GOOD.replace('"adam"', '"nope"'))
    got = issues_of(bad, registry)
    assert got == [
        "req.toml:1 requires: needs 'sharpreg-fisher-sam>=0.2', which is not installed; install it with: pip install 'sharpreg-fisher-sam>=0.2'",
        "req.toml:1 requires: needs 'sharpreg>=99' but sharpreg 0.1.0 is installed; pip install 'sharpreg>=99'",
    ]
    assert issues_of(write("inv.toml", 'requires = ["not a req!"]\n' + GOOD), registry)[0].startswith("inv.toml:1 requires: 'not a req!' is not a valid requirement")


def test_recipe_is_data_only(registry: Registry) -> None:
    """Nothing in a recipe can name code: import paths and _target_ keys are unknown keys."""
    text = GOOD.replace('name = "timm"', 'name = "timm"\n_target_ = "os.system"')
    got = issues_of(write("x.toml", text), registry)
    assert got[0].startswith("x.toml:9 model._target_: unknown key")
    got = issues_of(write("y.toml", GOOD.replace('"timm"', '"torch.nn:Linear"')), registry)
    assert got[0].startswith("y.toml:8 model.name: unknown model 'torch.nn:Linear'")


def test_a_table_that_names_another_plugin_replaces_the_parents(registry: Registry) -> None:
    """extends and --set: the parent's parameters of one plugin would mean nothing to another (timm's arch
    'resnet10t' is no MONAI network), so a new name starts the table afresh; the same name merges."""
    write("sw/base.toml", GOOD.replace('name = "none"', 'name = "sam"\nrho = 0.1'))
    child = write("sw/child.toml", 'extends = "base.toml"\n[model]\nname = "monai"\n[sharpness]\nname = "none"\n')
    recipe = load_recipe(child, registry=registry)
    assert (recipe.model.name, recipe.model.params.arch, recipe.sharpness.name) == ("monai", "DenseNet121", "none")
    same = write("sw/same.toml", 'extends = "base.toml"\n[model]\nname = "timm"\ndrop_rate = 0.1\n')
    merged = load_recipe(same, registry=registry)
    assert (merged.model.params.arch, merged.model.params.drop_rate, merged.sharpness.params.rho) == ("resnet10t", 0.1, 0.1)
    base = Path("sw/base.toml")
    assert load_recipe(base, ['model.name="monai"'], registry=registry).model.params.arch == "DenseNet121"
    switched = load_recipe(base, ["model.arch=SEResNet50", 'model.name="monai"'], registry=registry)
    assert switched.model.params.arch == "SEResNet50"  # what --set gave the table stays
    assert load_recipe(base, ["sharpness.name=none"], registry=registry).sharpness.name == "none"
    assert load_recipe(base, ["sharpness.rho=0.2"], registry=registry).sharpness.params.rho == 0.2


def test_resolved_recipe_pins_every_plugin_to_its_distribution(registry: Registry) -> None:
    recipe = load_recipe(write("p.toml", 'requires = ["sharpreg>=0.1", "pydantic>=2"]\n' + GOOD), registry=registry)
    pinned = recipe.pinned()
    assert [pinned[t]["name"] for t in ("data", "model", "optimizer", "sharpness")] == [
        "sharpreg:phantom", "sharpreg:timm", "sharpreg:adam", "sharpreg:none"]
    assert pinned["requires"] == ["sharpreg>=0.1.0", "pydantic>=2"] and list(pinned)[:2] == ["schema_version", "requires"]
    again = write("again.toml", tomli_w.dumps(pinned))
    assert load_recipe(again, registry=registry).pinned() == pinned  # pinning is stable
    assert recipe.resolved()["model"]["name"] == "timm"
