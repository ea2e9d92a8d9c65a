"""The small-input ResNet stem (MedMNIST v2's "ResNet-18 (28)"): resolution per stage, the default kept,
local weights with a replaced stem, and a clear error for architectures it does not apply to."""

from __future__ import annotations

import logging

import pytest
import timm
import torch
from safetensors.torch import save_file
from torch import nn

from sharpreg import ModelInputs
from sharpreg.errors import SharpregError
from sharpreg_plugins.models.timm_models import TimmParams, build

GREY_28 = ModelInputs(in_chans=1, num_classes=2, image_size=28)


def stage_sizes(model: nn.Module, size: int = 28) -> dict[str, tuple[int, int]]:
    """Spatial size of the output of each stage for one ``size`` px image."""
    sizes: dict[str, tuple[int, int]] = {}
    hooks = [getattr(model, name).register_forward_hook(
        lambda _m, _i, out, name=name: sizes.__setitem__(name, tuple(out.shape[-2:])))
        for name in ("layer1", "layer2", "layer3", "layer4")]
    with torch.no_grad():
        model.eval()(torch.randn(1, 1, size, size))
    for h in hooks:
        h.remove()
    return sizes


def test_small_input_resnet18_keeps_28_px_in_the_first_stage():
    model = build(TimmParams(arch="resnet18", stem="small_input"), GREY_28)
    assert stage_sizes(model) == {"layer1": (28, 28), "layer2": (14, 14), "layer3": (7, 7), "layer4": (4, 4)}
    assert isinstance(model.maxpool, nn.Identity)
    assert (model.conv1.kernel_size, model.conv1.stride, model.conv1.padding) == ((3, 3), (1, 1), (1, 1))
    assert model.conv1.bias is None and model.conv1.weight.shape == (64, 1, 3, 3)
    default = build(TimmParams(arch="resnet18"), GREY_28)
    n = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert n(model) == n(default) - 64 * 7 * 7 + 64 * 3 * 3  # only the first kernel changed
    assert [f["reduction"] for f in model.feature_info] == [1, 1, 2, 4, 8]
    model.train()
    model(torch.randn(4, 1, 28, 28)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_default_stem_is_timms_own():
    torch.manual_seed(0)
    ours = build(TimmParams(arch="resnet18"), GREY_28)
    torch.manual_seed(0)
    theirs = timm.create_model("resnet18", pretrained=False, in_chans=1, num_classes=2, drop_rate=0.0)
    assert stage_sizes(ours) == {"layer1": (7, 7), "layer2": (4, 4), "layer3": (2, 2), "layer4": (1, 1)}
    assert isinstance(ours.maxpool, nn.MaxPool2d) and ours.conv1.stride == (2, 2)
    assert all(torch.equal(a, b) for a, b in zip(ours.state_dict().values(), theirs.state_dict().values()))


@pytest.mark.parametrize("arch", ["resnet50", "resnet10t"])
def test_small_input_bottleneck_and_deep_stems(arch):
    model = build(TimmParams(arch=arch, stem="small_input"), GREY_28)
    assert stage_sizes(model)["layer1"] == (28, 28)
    if arch == "resnet10t":  # deep stem: its three convolutions stay, the first one at stride 1
        assert isinstance(model.conv1, nn.Sequential) and model.conv1[0].stride == (1, 1)


def test_default_stem_weights_load_except_the_7x7_kernel(tmp_path, caplog):
    torch.manual_seed(0)
    rgb = timm.create_model("resnet18", pretrained=False, in_chans=3, num_classes=1000)
    save_file(rgb.state_dict(), tmp_path / "imagenet_like.safetensors")
    with caplog.at_level(logging.WARNING, logger="sharpreg"):
        model = build(TimmParams(arch="resnet18", stem="small_input",
                                 pretrained_file=tmp_path / "imagenet_like.safetensors"), GREY_28)
    assert "conv1.weight (64, 3, 7, 7)" in caplog.text and "stays freshly initialized" in caplog.text
    src = rgb.state_dict()
    loaded = [k for k, v in model.state_dict().items() if k in src and src[k].shape == v.shape]
    assert all(torch.equal(model.state_dict()[k], src[k]) for k in loaded)
    assert set(model.state_dict()) - set(loaded) == {"conv1.weight", "fc.weight", "fc.bias"}


def test_deep_stem_weights_load_whole(tmp_path):
    torch.manual_seed(0)
    src = build(TimmParams(arch="resnet10t"), GREY_28)
    save_file(src.state_dict(), tmp_path / "w.safetensors")
    torch.manual_seed(1)
    model = build(TimmParams(arch="resnet10t", stem="small_input", pretrained_file=tmp_path / "w.safetensors"), GREY_28)
    assert all(torch.equal(a, b) for a, b in zip(src.state_dict().values(), model.state_dict().values()))


def test_small_input_on_a_non_resnet_is_one_clear_error():
    with pytest.raises(SharpregError, match=r"stem = 'small_input' works with timm's ResNet family.*'convnext_atto'"):
        build(TimmParams(arch="convnext_atto", stem="small_input"), GREY_28)


def test_channels_last_is_the_same_model_in_another_layout():
    """The same logits, and a SAM step through the engine keeps the layout and the result up to rounding
    (BatchNorm sums cancelling terms into the first kernels' gradients, so rounding shows there most)."""
    from sharpreg.engine import SharpnessStep
    from sharpreg_plugins.rules import sharpreg_sharpness_rules

    sam = next(s for s in sharpreg_sharpness_rules() if s.name == "sam")
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(8, 1, 28, 28, generator=gen), torch.tensor([0, 1] * 4)
    logits, weights = {}, {}
    for fmt in ("contiguous", "channels_last"):
        torch.manual_seed(0)
        model = build(TimmParams(arch="resnet10t", stem="small_input", memory_format=fmt), GREY_28)
        logits[fmt] = model(x).detach()
        start = torch.cat([p.detach().flatten() for p in model.parameters()])
        params = sam.params()
        engine = SharpnessStep(model, torch.optim.SGD(model.parameters(), lr=0.05), sam.factory(params), params)
        engine.step([(x, y)], nn.functional.cross_entropy)
        assert model.conv1[3].weight.is_contiguous(memory_format=torch.channels_last) == (fmt == "channels_last")
        weights[fmt] = torch.cat([p.detach().flatten() for p in model.parameters()])
    torch.testing.assert_close(logits["channels_last"], logits["contiguous"], rtol=1e-4, atol=1e-5)
    step = (weights["contiguous"] - start).norm()
    assert step > 0 and (weights["channels_last"] - weights["contiguous"]).norm() < 1e-3 * step
