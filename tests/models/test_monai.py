"""MONAI networks build from the data's shape and train a step; nothing downloads."""

from __future__ import annotations

import pydantic
import pytest
import torch

from sharpreg import ModelInputs
from sharpreg_plugins.models.monai_models import BUILDERS, MonaiParams, build


@pytest.mark.parametrize("arch", ["DenseNet121", "ResNet18"])
def test_builds_and_steps(arch):
    inputs = ModelInputs(in_chans=1, num_classes=3, image_size=32)
    model = build(MonaiParams(arch=arch, dropout=0.1), inputs)
    out = model(torch.randn(2, 1, 32, 32))
    assert out.shape == (2, 3)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_rgb_input_and_dropout_reach_densenet():
    model = build(MonaiParams(arch="DenseNet121", dropout=0.25), ModelInputs(3, 2, 32))
    assert model.features[0].in_channels == 3
    assert any(isinstance(m, torch.nn.modules.dropout._DropoutNd) and m.p == 0.25 for m in model.modules())


@pytest.mark.slow
@pytest.mark.parametrize("arch", sorted(set(BUILDERS) - {"DenseNet121", "ResNet18"}))
def test_other_networks_build(arch):
    assert build(MonaiParams(arch=arch), ModelInputs(1, 2, 32))(torch.randn(2, 1, 32, 32)).shape == (2, 2)


def test_unknown_network_is_rejected_by_the_params():
    with pytest.raises(pydantic.ValidationError):
        MonaiParams(arch="UNet")
