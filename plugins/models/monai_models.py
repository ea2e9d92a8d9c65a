"""``monai``: MONAI's 2-D classification networks (DenseNet121 and others), built from scratch.

Nothing is downloaded: MONAI's pretrained options stay off. (Vision transformers come from the
``timm`` plugin: MONAI's ViT needs the optional ``einops``.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pydantic import Field
from torch import nn

from sharpreg import ModelInputs, ModelParams, ModelSpec, hookimpl

Arch = Literal[
    "DenseNet121", "DenseNet169", "DenseNet201", "SEResNet50", "ResNet18", "ResNet34", "ResNet50",
    "EfficientNetB0",
]


class MonaiParams(ModelParams):
    arch: Arch = Field("DenseNet121", description="MONAI network.")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout probability (where the network has one).")

    def architecture(self) -> str:
        return self.arch


def _densenet(cls_name: str) -> Callable[[MonaiParams, ModelInputs], nn.Module]:
    def make(p: MonaiParams, i: ModelInputs) -> nn.Module:
        from monai.networks import nets

        return getattr(nets, cls_name)(spatial_dims=2, in_channels=i.in_chans, out_channels=i.num_classes,
                                       dropout_prob=p.dropout, pretrained=False)

    return make


def _resnet(depth: int) -> Callable[[MonaiParams, ModelInputs], nn.Module]:
    def make(p: MonaiParams, i: ModelInputs) -> nn.Module:
        from monai.networks import nets

        return getattr(nets, f"resnet{depth}")(spatial_dims=2, n_input_channels=i.in_chans,
                                               num_classes=i.num_classes, pretrained=False)

    return make


def _seresnet50(p: MonaiParams, i: ModelInputs) -> nn.Module:
    from monai.networks.nets import SEResNet50

    return SEResNet50(spatial_dims=2, in_channels=i.in_chans, num_classes=i.num_classes,
                      dropout_prob=p.dropout or None, pretrained=False)


def _efficientnet_b0(p: MonaiParams, i: ModelInputs) -> nn.Module:
    from monai.networks.nets import EfficientNetBN

    return EfficientNetBN("efficientnet-b0", pretrained=False, spatial_dims=2, in_channels=i.in_chans,
                          num_classes=i.num_classes)


BUILDERS: dict[str, Callable[[MonaiParams, ModelInputs], nn.Module]] = {
    "DenseNet121": _densenet("DenseNet121"),
    "DenseNet169": _densenet("DenseNet169"),
    "DenseNet201": _densenet("DenseNet201"),
    "SEResNet50": _seresnet50,
    "ResNet18": _resnet(18),
    "ResNet34": _resnet(34),
    "ResNet50": _resnet(50),
    "EfficientNetB0": _efficientnet_b0,
}


def build(params: MonaiParams, inputs: ModelInputs) -> nn.Module:
    return BUILDERS[params.arch](params, inputs)


@hookimpl
def sharpreg_models() -> list[ModelSpec]:
    return [ModelSpec("monai", MonaiParams, build,
                      "MONAI 2-D classification networks (DenseNet121/169/201, SEResNet50, ResNet, "
                      "EfficientNet-B0).", citation="MONAI Consortium, MONAI (2020)")]
