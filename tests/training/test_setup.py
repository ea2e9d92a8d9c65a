"""training/setup.py: the multistep learning-rate schedule (torch's MultiStepLR per epoch, warm-up composition,
validation) and deterministic seeding without torch's NaN fill of new tensors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from pydantic import ValidationError

from sharpreg.errors import RecipeError
from sharpreg.recipe import load_recipe
from sharpreg.recipe.core import TrainConfig
from sharpreg.training.setup import lr_factor, seed_everything


def torch_multistep_lrs(epochs: int, steps_per_epoch: int, milestones: list[int], gamma: float) -> list[float]:
    """The rate of every step under torch's MultiStepLR stepped once per epoch (MedMNIST v2's loop)."""
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=milestones, gamma=gamma)
    out = []
    for _ in range(epochs):
        out += [opt.param_groups[0]["lr"]] * steps_per_epoch
        opt.step()
        sched.step()
    return out


@pytest.mark.parametrize(("epochs", "spe", "milestones", "gamma"), [(100, 5, [50, 75], 0.1), (7, 3, [1, 2, 6], 0.5)])
def test_multistep_equals_torch_multisteplr_per_epoch(epochs: int, spe: int, milestones: list[int], gamma: float) -> None:
    cfg = TrainConfig(epochs=epochs, scheduler="multistep", milestones=milestones, step_gamma=gamma)
    ours = [lr_factor(cfg, s, epochs * spe, spe, 1.0) for s in range(epochs * spe)]
    assert ours == pytest.approx(torch_multistep_lrs(epochs, spe, milestones, gamma), rel=1e-12)


def test_multistep_medmnist_phases_change_at_epoch_boundaries() -> None:
    cfg = TrainConfig(epochs=100, scheduler="multistep", milestones=[50, 75])
    f = [lr_factor(cfg, s, 500, 5, 1e-3) for s in range(500)]
    assert set(f[:250]) == {1.0} and f[249] == 1.0 and f[250] == pytest.approx(0.1)
    assert f[374] == pytest.approx(0.1) and f[375] == pytest.approx(0.01) and f[-1] == pytest.approx(0.01)


def test_warmup_then_multistep() -> None:
    """Warm-up ramps linearly to the base rate; milestones count epochs from the start of training."""
    cfg = TrainConfig(epochs=6, scheduler="multistep", milestones=[2, 4], warmup_epochs=1, step_gamma=0.5)
    f = [lr_factor(cfg, s, 24, 4, 1.0) for s in range(24)]
    assert f[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert f[4:8] == pytest.approx([1.0] * 4)
    assert f[8:16] == pytest.approx([0.5] * 8) and f[16:] == pytest.approx([0.25] * 8)


@pytest.mark.parametrize(("kw", "message"), [
    ({"scheduler": "multistep"}, "needs milestones"),
    ({"scheduler": "multistep", "milestones": [75, 50]}, "strictly increasing"),
    ({"scheduler": "multistep", "milestones": [50, 50]}, "strictly increasing"),
    ({"scheduler": "multistep", "milestones": [50, 100]}, r"\[100\] never take effect"),
    ({"scheduler": "multistep", "milestones": [0, 50]}, r"\[0\] must be at least 1"),
    ({"scheduler": "multistep", "milestones": [2, 50], "warmup_epochs": 3}, r"\[2\] .* inside the warm-up"),
    ({"scheduler": "cosine", "milestones": [50]}, "only by scheduler = 'multistep'"),
])
def test_bad_milestones_are_rejected(kw: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        TrainConfig(epochs=100, **kw)
    TrainConfig(epochs=100, scheduler="multistep", milestones=[3, 50, 99], warmup_epochs=3)  # the edges are fine


def test_milestone_error_names_the_key_and_line(tmp_path: Path) -> None:
    recipe = tmp_path / "r.toml"
    recipe.write_text('schema_version = 1\n[data]\nname = "phantom"\n[model]\nname = "timm"\n[optimizer]\nname = "adam"\n'
                      '[train]\nepochs = 10\nscheduler = "multistep"\nmilestones = [5, 12]\n')
    with pytest.raises(RecipeError) as err:
        load_recipe(recipe)
    assert "r.toml:11 train.milestones:" in str(err.value) and "[12] never take effect" in str(err.value)
    assert load_recipe(recipe, overrides=["train.milestones=[5, 8]"]).train.milestones == [5, 8]


def test_deterministic_seeding_skips_the_nan_fill_and_stays_reproducible() -> None:
    def run() -> torch.Tensor:
        flags = seed_everything(3, deterministic=True)
        assert flags["torch_deterministic_algorithms"] is True and flags["torch_fill_uninitialized_memory"] is False
        conv = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU())
        x = torch.randn(2, 1, 8, 8)
        conv(x).sum().backward()
        return torch.cat([p.grad.flatten() for p in conv.parameters()])

    try:
        assert torch.equal(run(), run())
    finally:
        torch.use_deterministic_algorithms(False)
        torch.utils.deterministic.fill_uninitialized_memory = True
