"""timm models: shapes from the data, options passed through, local weights only, never the network."""

from __future__ import annotations

import socket

import pytest
import torch
from safetensors.torch import save_file

from sharpreg import ModelInputs
from sharpreg.errors import SharpregError
from sharpreg_plugins.models.timm_models import TimmParams, build


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test (nothing may download)."""

    def refuse(*args, **kwargs):
        raise AssertionError("a model build tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def step(model: torch.nn.Module, inputs: ModelInputs, batch: int = 2) -> torch.Tensor:
    x = torch.randn(batch, inputs.in_chans, inputs.image_size, inputs.image_size)
    out = model(x)
    out.sum().backward()
    return out


@pytest.mark.parametrize(
    ("arch", "size"),
    [("resnet10t", 32), ("vit_tiny_patch16_224", 32), ("convnext_atto", 32),
     pytest.param("vgg11", 32, marks=pytest.mark.slow)],
)
def test_small_variants_at_small_sizes(arch, size):
    inputs = ModelInputs(in_chans=1, num_classes=3, image_size=size)
    model = build(TimmParams(arch=arch), inputs)
    assert step(model, inputs).shape == (2, 3)
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_transformer_gets_img_size_over_the_data_size():
    vit = build(TimmParams(arch="vit_tiny_patch16_224", img_size=64), ModelInputs(1, 2, 48))
    assert vit.patch_embed.img_size == (64, 64)


def test_drop_rates_reach_the_model():
    m = build(TimmParams(arch="vit_tiny_patch16_224", drop_rate=0.3, drop_path_rate=0.2), ModelInputs(3, 2, 32))
    assert m.head_drop.p == pytest.approx(0.3)
    assert max(float(b.drop_path1.drop_prob) for b in m.blocks if hasattr(b.drop_path1, "drop_prob")) == pytest.approx(0.2)


def test_unknown_arch_suggests_names():
    with pytest.raises(SharpregError, match=r"unknown timm architecture 'resnet5O'.*did you mean.*resnet50"):
        build(TimmParams(arch="resnet5O"), ModelInputs(1, 2, 32))


def test_missing_weights_file_is_a_clear_error(tmp_path):
    with pytest.raises(SharpregError, match=r"pretrained_file: .*nope.safetensors does not exist.*nothing is downloaded"):
        build(TimmParams(arch="resnet10t", pretrained_file=tmp_path / "nope.safetensors"), ModelInputs(1, 2, 32))


def test_local_weights_load_exactly(tmp_path):
    torch.manual_seed(0)
    src = build(TimmParams(arch="resnet10t"), ModelInputs(1, 2, 32))
    save_file(src.state_dict(), tmp_path / "w.safetensors")
    torch.save(src.state_dict(), tmp_path / "w.pth")
    for name in ("w.safetensors", "w.pth"):
        torch.manual_seed(1)
        dst = build(TimmParams(arch="resnet10t", pretrained_file=tmp_path / name), ModelInputs(1, 2, 32))
        for (k, a), b in zip(src.state_dict().items(), dst.state_dict().values()):
            assert torch.equal(a, b), (name, k)


def test_rgb_imagenet_style_weights_adapt_to_grey_and_new_head(tmp_path):
    torch.manual_seed(0)
    rgb = build(TimmParams(arch="resnet10t"), ModelInputs(3, 1000, 32))
    save_file(rgb.state_dict(), tmp_path / "rgb.safetensors")
    grey = build(TimmParams(arch="resnet10t", pretrained_file=tmp_path / "rgb.safetensors"), ModelInputs(1, 2, 32))
    first = rgb.conv1[0].weight
    assert torch.allclose(grey.conv1[0].weight, first.sum(dim=1, keepdim=True))  # timm sums RGB into grey
    assert torch.equal(grey.layer1[0].conv1.weight, rgb.layer1[0].conv1.weight)
    assert grey.fc.weight.shape == (2, rgb.fc.weight.shape[1])


def test_weights_of_another_architecture_are_a_clear_error(tmp_path):
    other = build(TimmParams(arch="vgg11"), ModelInputs(1, 2, 32))
    save_file(other.state_dict(), tmp_path / "vgg.safetensors")
    with pytest.raises(SharpregError, match=r"vgg.safetensors does not fit timm 'resnet10t'"):
        build(TimmParams(arch="resnet10t", pretrained_file=tmp_path / "vgg.safetensors"), ModelInputs(1, 2, 32))


def test_pickles_with_code_are_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"state_dict": {"x": Evil()}}, tmp_path / "evil.pth")
    with pytest.raises(SharpregError, match=r"evil.pth"):
        build(TimmParams(arch="resnet10t", pretrained_file=tmp_path / "evil.pth"), ModelInputs(1, 2, 32))


STUDY = ["resnet50", "vgg16_bn", "vit_small_patch16_224", "swin_tiny_patch4_window7_224"]


@pytest.mark.slow
@pytest.mark.parametrize("arch", STUDY)
def test_study_architectures_step_at_224(arch):
    inputs = ModelInputs(in_chans=1, num_classes=2, image_size=224)
    model = build(TimmParams(arch=arch), inputs)
    out = step(model, inputs, batch=2)
    assert out.shape == (2, 2) and torch.isfinite(out).all()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_vit_weights_from_another_size_resample_the_position_embedding(tmp_path):
    src = build(TimmParams(arch="vit_tiny_patch16_224"), ModelInputs(3, 1000, 64))
    save_file(src.state_dict(), tmp_path / "vit.safetensors")
    dst = build(TimmParams(arch="vit_tiny_patch16_224", pretrained_file=tmp_path / "vit.safetensors"),
                ModelInputs(1, 2, 32))
    assert dst.pos_embed.shape == (1, 1 + 4, 192)
    assert torch.equal(dst.pos_embed[:, 0], src.pos_embed[:, 0])  # the class token's embedding is kept
    assert torch.equal(dst.blocks[0].attn.qkv.weight, src.blocks[0].attn.qkv.weight)
