"""Grid files: parsing, expansion into runs, and clear errors with file:line and key."""

from __future__ import annotations

import pytest

from sharpreg.errors import RecipeError
from sharpreg.study.grid import Combo, load_grid, toml_literal


def test_grid_expands_to_the_cartesian_product_with_fixed_overrides(write_grid):
    path = write_grid('[set]\n"train.epochs" = 2\n[grid]\n"sharpness.name" = ["none", "sam"]\n'
                      'model.arch = ["resnet10t", "resnet18"]\n"train.seed" = [0, 1, 2]\n')
    grid = load_grid(path)
    assert len(grid.combos) == 12
    ids = [c.id for c in grid.combos]
    assert ids[0] == "none_resnet10t_seed0" and "sam_resnet18_seed2" in ids and len(set(ids)) == 12
    sam = next(c for c in grid.combos if c.id == "sam_resnet18_seed1")
    assert sam.overrides() == ['train.epochs=2', 'sharpness.name="sam"', 'model.arch="resnet18"', 'train.seed=1']
    assert grid.epochs[sam.id] == 2
    assert grid.name == "grid" and grid.config.baseline == "none"


def test_variants_combine_with_the_grid_and_labels_name_them(write_grid):
    path = write_grid('name = "v"\n[grid]\n"train.seed" = [0, 1]\n'
                      '[[variants]]\n"sharpness.name" = "none"\n'
                      '[[variants]]\nlabel = "asam-eta0"\nsharpness.name = "asam"\nsharpness.rho = 0.5\nsharpness.eta = 0.0\n')
    grid = load_grid(path)
    assert [c.id for c in grid.combos] == ["none_seed0", "none_seed1", "asam-eta0_seed0", "asam-eta0_seed1"]
    assert grid.combos[2].values == {"sharpness.name": "asam", "sharpness.rho": 0.5, "sharpness.eta": 0.0, "train.seed": 0}
    assert grid.name == "v"


def test_run_ids_of_booleans_and_negative_numbers(write_grid):
    grid = load_grid(write_grid('[grid]\n"data.split.group_duplicates" = [true, false]\n"optimizer.weight_decay" = [0.0, 0.01]\n'),
                     validate_recipes=False)
    # ids list the keys in recipe order (optimizer before data), whatever the grid's order
    assert [c.id for c in grid.combos] == ["weight-decay0.0_group-duplicates", "weight-decay0.01_group-duplicates",
                                           "weight-decay0.0_no-group-duplicates", "weight-decay0.01_no-group-duplicates"]
    neg = load_grid(write_grid('[grid]\n"optimizer.lr" = [-1.0, 1.0]\n', name="neg.toml"), validate_recipes=False)
    assert [c.id for c in neg.combos] == ["lrm1.0", "lr1.0"]


def test_toml_literals_round_trip():
    assert toml_literal("sam") == '"sam"'
    assert toml_literal(0.05) == "0.05"
    assert toml_literal(True) == "true"
    assert toml_literal(["benign", "malignant"]) in ('["benign", "malignant"]', '[\n    "benign",\n    "malignant",\n]')
    assert Combo("x", {"data.classes": ["a"]}).overrides()[0].startswith("data.classes=")


@pytest.mark.parametrize("body, expected", [
    ('[grid]\n"train.seed" = 3\n', 'grid.train.seed: must be a non-empty list of values'),
    ('[grid]\n"train.seed" = []\n', 'grid.train.seed: must be a non-empty list of values'),
    ('[grid]\n"train.seed" = [0, 0]\n', 'grid.train.seed: repeats a value'),
    ('workers = 0\n[grid]\n"train.seed" = [0]\n', 'workers: Input should be greater than or equal to 1'),
    ('wokers = 2\n[grid]\n"train.seed" = [0]\n', 'wokers: unknown key'),
    ('[slurm]\nparition = "gpu"\n[grid]\n"train.seed" = [0]\n', 'slurm.parition: unknown key; known keys: partition'),
    ('name = "x"\n', 'neither a [grid] table, a [zip] table nor [[variants]]'),
    ('[grid]\n"train.seed" = [0]\n[[variants]]\n"train.seed" = 1\n', 'variant 1 sets train.seed, which the grid varies'),
    ('[grid]\n"train.seed" = [0\n', 'TOML syntax error'),
])
def test_grid_mistakes_are_reported_with_file_line_and_key(write_grid, body, expected):
    path = write_grid(body)
    with pytest.raises(RecipeError) as err:
        load_grid(path)
    text = str(err.value)
    assert expected in text
    assert "grid.toml:" in text  # file:line


def test_missing_base_recipe(write_grid, tmp_path):
    path = write_grid('[grid]\n"train.seed" = [0]\n', recipe="nope.toml")
    with pytest.raises(RecipeError, match=r"grid.toml:1 recipe: 'nope.toml' not found"):
        load_grid(path)


def test_duplicate_run_ids_are_refused(write_grid):
    path = write_grid('[[variants]]\nlabel = "a"\n"sharpness.name" = "sam"\n[[variants]]\nlabel = "a"\n"sharpness.name" = "asam"\n')
    with pytest.raises(RecipeError, match="two runs get the id 'a'"):
        load_grid(path)


def test_every_combination_is_validated_by_the_recipe_loader_before_anything_runs(write_grid):
    path = write_grid('[grid]\n"sharpness.name" = ["none", "sma"]\n"sharpness.rho" = [0.05, -1.0]\n')
    with pytest.raises(RecipeError) as err:
        load_grid(path)
    text = str(err.value)
    assert "run sma_rho0.05" in text and "did you mean" in text  # unknown rule name, with a suggestion
    assert "run none_rhom1.0" in text and "sharpness.rho: unknown key" in text  # 'none' has no rho
    assert load_grid(path, validate_recipes=False).combos  # parsing alone succeeds


def test_a_zip_axis_pairs_values_element_by_element(write_grid):
    path = write_grid('[grid]\n"train.seed" = [0, 1]\n'
                      '[zip.model]\n"model.arch" = ["resnet10t", "resnet18"]\n"optimizer.lr" = [0.001, 0.0005]\n'
                      '"train.batch_size" = [8, 4]\n')
    grid = load_grid(path)
    assert [c.id for c in grid.combos] == ["resnet10t_seed0", "resnet18_seed0", "resnet10t_seed1", "resnet18_seed1"]
    values = {c.id: c.values for c in grid.combos}
    assert values["resnet18_seed1"] == {"train.seed": 1, "model.arch": "resnet18", "optimizer.lr": 0.0005,
                                        "train.batch_size": 4}
    assert {(v["model.arch"], v["optimizer.lr"]) for v in values.values()} == {("resnet10t", 0.001), ("resnet18", 0.0005)}


@pytest.mark.parametrize("body, expected", [
    ('[zip.m]\n"model.arch" = ["a", "b"]\n"optimizer.lr" = [0.1]\n', "all of one length (model.arch: 2, optimizer.lr: 1)"),
    ('[zip.m]\n"model.arch" = ["a", "b"]\n"optimizer.lr" = 0.1\n', "optimizer.lr: not a list"),
    ('[grid]\n"model.arch" = ["a"]\n[zip.m]\n"model.arch" = ["a"]\n', "zip.m.model.arch: is varied elsewhere"),
    ('[zip.m]\n"model.arch" = ["a", "a"]\n"optimizer.lr" = [0.1, 0.1]\n', "repeats a row of values"),
    ('[zip.m]\n"model.arch" = ["a"]\n[[variants]]\n"model.arch" = "b"\n', "variant 1 sets model.arch, which the grid varies"),
])
def test_zip_mistakes(write_grid, body, expected):
    with pytest.raises(RecipeError, match="grid.toml:") as err:
        load_grid(write_grid(body), validate_recipes=False)
    assert expected in str(err.value)


def test_variant_labels_travel_with_the_runs(write_grid):
    grid = load_grid(write_grid('[grid]\n"train.seed" = [0]\n[[variants]]\nlabel = "none-2x"\n"sharpness.name" = "none"\n'
                                '"train.epochs" = 2\n[[variants]]\nlabel = "none"\n"sharpness.name" = "none"\n'))
    assert [(c.id, c.variant) for c in grid.combos] == [("none-2x_seed0", "none-2x"), ("none_seed0", "none")]
