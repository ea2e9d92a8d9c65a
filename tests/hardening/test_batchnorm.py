"""Item 1: a batch or micro-batch of one image never reaches BatchNorm in training; `check` reports the
recipes that can never work (a batch of one under BatchNorm, an image too small for the model)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

from sharpreg.data.sampler import GlobalBatches
from sharpreg.training.batches import batch_sizes, micro_batches, smallest_global_batch, smallest_micro_batch

from .conftest import one_line_error


def test_batches_hold_two_images_at_least_under_batchnorm() -> None:
    for n in range(1, 40):
        for size in range(1, 12):
            sizes = batch_sizes(n, size, smallest=2)
            assert sum(sizes) == n and max(sizes) <= size + 1
            if size >= 2 and n >= 2:
                assert min(sizes) >= 2, (n, size, sizes)
    assert batch_sizes(11, 5, smallest=2) == [5, 6]  # the last image joins the batch before it
    assert batch_sizes(11, 5, smallest=1) == [5, 5, 1]  # without BatchNorm nothing changes


def test_micro_batches_hold_two_images_at_least_under_batchnorm() -> None:
    x, y = torch.arange(40.0)[:, None], torch.arange(40)
    for b in range(1, 30):
        for accumulate in range(1, 9):
            parts = micro_batches(x[:b], y[:b], accumulate, smallest=2)
            sizes = [len(py) for _, py in parts]
            assert sum(sizes) == b and max(sizes) - min(sizes) <= 1
            assert torch.equal(torch.cat([py for _, py in parts]), y[:b])
            assert len(parts) == max(1, min(accumulate, b // 2))
            if b >= 2:
                assert min(sizes) >= 2, (b, accumulate, sizes)
    # what torch's chunk gave before: [3, 3, 3, 1] for 10 images in 4 micro-batches
    assert [len(p) for _, p in micro_batches(x[:10], y[:10], 4, smallest=2)] == [3, 3, 2, 2]
    assert smallest_micro_batch(None, 1, 1, smallest=2) == 1 and smallest_micro_batch(None, 4, 4, smallest=2) == 2


def test_batches_are_torch_loaders_where_nothing_joins() -> None:
    """Runs whose batches need no joining draw exactly the batches torch's shuffling loader drew."""
    for n, size in ((12, 5), (24, 4), (7, 7)):
        torch_batches = [b.tolist() for b in DataLoader(range(n), batch_size=size, shuffle=True,
                                                        generator=torch.Generator().manual_seed(3))]
        ours = GlobalBatches(n, size, 0, sizes=batch_sizes(n, size, 2))
        ours.set_epoch(3)  # seed 0, epoch 3: the generator seeded 3
        assert [[i for _, i in b] for b in ours] == torch_batches


def test_every_process_gets_two_images_of_every_batch_under_batchnorm() -> None:
    for world in (2, 3, 4):
        least = smallest_global_batch(2, world, synced=False)
        assert least == 2 * world and smallest_global_batch(2, world, synced=True) == 2
        assert smallest_global_batch(1, world, synced=False) == 1  # without BatchNorm batches are cut as for one
        for n in range(least, 40):
            for size in range(least, 14):
                sizes = batch_sizes(n, size, least)
                ranks = [GlobalBatches(n, size, 1, rank=r, world=world, sizes=sizes) for r in range(world)]
                shares = [[s.local_size(step) for s in ranks] for step in range(len(sizes))]
                assert min(min(step) for step in shares) >= 2, (world, n, size, shares)
    # the negative control: cut for one process, a last batch of 3 leaves one of 2 processes a single image
    loose = [GlobalBatches(11, 4, 1, rank=r, world=2, sizes=batch_sizes(11, 4, 2)) for r in range(2)]
    assert min(s.local_size(2) for s in loose) == 1


def test_a_batch_too_small_for_two_images_per_process_is_refused(tiny: Path) -> None:
    from sharpreg.distributed import Replicas
    from sharpreg.errors import SharpregError
    from sharpreg.recipe import load_recipe
    from sharpreg.training.parts import build_parts

    recipe = load_recipe(tiny, ["train.batch_size=3"])  # test_resnet has BatchNorm
    with pytest.raises(SharpregError, match=r"train.batch_size = 3 on 2 processes .* at least 4"):
        build_parts(recipe, Replicas(rank=0, world=2))


def _train_images(recipe: Path) -> int:
    from sharpreg.build import build_datamodule
    from sharpreg.recipe import load_recipe

    dm = build_datamodule(load_recipe(recipe))
    dm.setup()
    return len(dm.labels("train"))


@pytest.mark.slow
def test_last_batch_and_micro_batch_of_one_image_train(cli, tiny: Path, tmp_path: Path) -> None:
    """Before: "Expected more than 1 value per channel" after the first checkpoint, and again on resume."""
    n = _train_images(tiny)
    last_of_one = cli("run", tiny, "--set", f"train.batch_size={n - 1}", "--set", "train.max_steps_per_epoch=5",
                      "--out", tmp_path / "last", "--no-progress")
    assert last_of_one.code == 0, last_of_one.err
    assert (tmp_path / "last" / "summary.json").is_file()
    micro_of_one = cli("run", tiny, "--set", "train.batch_size=5", "--set", "train.accumulate=3", "--out",
                       tmp_path / "micro", "--no-progress")  # torch.chunk made micro-batches of 2, 2 and 1
    assert micro_of_one.code == 0, micro_of_one.err


def test_check_reports_a_batch_of_one_image_under_batchnorm(cli, tiny: Path) -> None:
    bad = cli("check", tiny, "--set", "train.batch_size=1")
    assert bad.code == 2
    assert "train.batch_size: a batch of one image cannot train timm 'test_resnet' at 32 px" in bad.err
    assert "BatchNorm" in bad.err and "Traceback" not in bad.err
    # a model without BatchNorm trains on single images, and one image is fine in evaluation
    assert cli("check", tiny, "--set", "train.batch_size=1", "--set", 'model.arch="test_vit"').code == 0
    assert cli("check", tiny).code == 0


def test_check_reports_an_image_too_small_for_the_model(cli, tiny: Path) -> None:
    bad = cli("check", tiny, "--set", 'model.arch="test_convnext"', "--set", "data.image_size=16")
    assert bad.code == 2 and "data.image_size: timm 'test_convnext' cannot take 16 px images" in bad.err
    assert cli("check", tiny, "--set", 'model.arch="test_convnext"').code == 0


def test_run_that_can_never_work_stops_before_its_first_checkpoint(cli, tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    line = one_line_error(cli("run", tiny, "--set", "train.batch_size=1", "--out", out, "--no-progress"))
    assert "train.batch_size" in line and "set train.batch_size to 2 or more" in line
    assert not out.exists()  # nothing left: the same command works once the recipe is fixed


@pytest.mark.data
@pytest.mark.slow
def test_breastmnist_28px_batches_of_5(cli, tmp_path: Path) -> None:
    """The issue's example: BreastMNIST's 546 training images in batches of 5 leave one image."""
    if not os.environ.get("SHARPREG_DATA"):
        pytest.skip("set SHARPREG_DATA to the folder holding breastmnist/")
    recipe = tmp_path / "bm.toml"
    recipe.write_text('schema_version = 1\n[data]\nname = "breastmnist"\n[model]\nname = "timm"\narch = "resnet10t"\n'
                      '[optimizer]\nname = "adam"\n[sharpness]\nname = "none"\n'
                      '[train]\nepochs = 1\nbatch_size = 5\ndevice = "cpu"\n[eval]\nbootstrap = 0\n')
    result = cli("run", recipe, "--out", tmp_path / "run", "--no-progress")
    assert result.code == 0, result.err
    assert (tmp_path / "run" / "summary.json").is_file()


def test_a_sweep_validates_the_first_step_of_every_run(cli, tiny: Path, tmp_path: Path) -> None:
    grid = tmp_path / "grid.toml"
    grid.write_text(f'recipe = "{tiny.name}"\n[grid]\n"train.batch_size" = [1, 4]\n"train.seed" = [0, 1]\n')
    result = cli("sweep", grid, "--dry-run")
    assert result.code == 2 and "Traceback" not in result.err
    problems = [line for line in result.err.splitlines() if "a batch of one image cannot train" in line]
    assert len(problems) == 1 and "run batch-size1_seed0:" in problems[0]  # the same problem once, not per seed
