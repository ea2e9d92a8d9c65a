"""``timm``: any timm architecture by name; pretrained weights only from a local file."""

from __future__ import annotations

from pathlib import Path

import torch
from pydantic import Field

from sharpreg import ModelInputs, ModelParams, ModelSpec, hookimpl
from sharpreg.errors import SharpregError


class TimmParams(ModelParams):
    arch: str = Field("resnet18", min_length=1, description="timm architecture name (e.g. resnet50, vit_small_patch16_224).")
    drop_rate: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout before the classifier.")
    drop_path_rate: float = Field(0.0, ge=0.0, lt=1.0, description="Stochastic depth (DropPath) rate.")
    pretrained_file: Path | None = Field(
        None, description="Local weights file (.safetensors, .pth or .bin) to start from. Nothing is downloaded."
    )


def build(params: TimmParams, inputs: ModelInputs) -> torch.nn.Module:
    import timm

    if params.arch not in timm.list_models():
        import difflib

        near = difflib.get_close_matches(params.arch, timm.list_models(), n=5, cutoff=0.6)
        hint = f"; did you mean {', '.join(near)}?" if near else " (`timm.list_models()` lists them)"
        raise SharpregError(f"model.arch: unknown timm architecture {params.arch!r}{hint}")
    kwargs = dict(in_chans=inputs.in_chans, num_classes=inputs.num_classes, drop_rate=params.drop_rate)
    if params.drop_path_rate:
        kwargs["drop_path_rate"] = params.drop_path_rate
    if params.pretrained_file is not None:
        f = params.pretrained_file.expanduser()
        if not f.is_file():
            raise SharpregError(f"model.pretrained_file: {f} does not exist (weights load only from a local file)")
        kwargs["pretrained"] = True
        kwargs["pretrained_cfg_overlay"] = {"file": str(f)}
    return timm.create_model(params.arch, **kwargs)


@hookimpl
def sharpreg_models() -> list[ModelSpec]:
    return [ModelSpec("timm", TimmParams, build, "Any timm image classifier by architecture name.",
                      citation="Wightman, PyTorch Image Models")]
