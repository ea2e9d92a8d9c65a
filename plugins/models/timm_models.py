"""``timm``: any timm architecture by name; pretrained weights only from a local file.

``in_chans`` and ``num_classes`` come from the data set. Architectures built for a fixed input size
(ViT, Swin, ...) get ``img_size`` (default: the data's image size). Pretrained weights load only
from ``pretrained_file`` (.safetensors, or .pth/.bin read with ``weights_only=True``); timm adapts the
first convolution to ``in_chans`` and drops a classifier of another size. Nothing is downloaded.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import torch
from pydantic import Field

from sharpreg import ModelInputs, ModelParams, ModelSpec, hookimpl
from sharpreg.errors import SharpregError


class TimmParams(ModelParams):
    arch: str = Field("resnet18", min_length=1, description="timm architecture name (e.g. resnet50, vit_small_patch16_224).")
    drop_rate: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout before the classifier.")
    drop_path_rate: float = Field(0.0, ge=0.0, lt=1.0, description="Stochastic depth (DropPath) rate.")
    img_size: int | None = Field(
        None, ge=8, le=4096,
        description="Input size for architectures built for a fixed size (ViT, Swin); default the data's "
        "image_size. Ignored by architectures that take any size.",
    )
    pretrained_file: Path | None = Field(
        None, description="Local weights file (.safetensors, .pth or .bin) to start from. Nothing is downloaded."
    )


def fixed_input_size(arch: str) -> bool:
    """Whether timm builds ``arch`` for one input size (so ``img_size`` must be passed)."""
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(arch)
    return bool(cfg is not None and cfg.fixed_input_size)


def build(params: TimmParams, inputs: ModelInputs) -> torch.nn.Module:
    import timm

    names = timm.list_models()
    if params.arch not in names:
        near = difflib.get_close_matches(params.arch, names, n=5, cutoff=0.6)
        hint = f"; did you mean {', '.join(near)}?" if near else " (`timm.list_models()` lists them)"
        raise SharpregError(f"model.arch: unknown timm architecture {params.arch!r}{hint}")
    kwargs: dict = dict(in_chans=inputs.in_chans, num_classes=inputs.num_classes, drop_rate=params.drop_rate)
    if params.drop_path_rate:
        kwargs["drop_path_rate"] = params.drop_path_rate
    if fixed_input_size(params.arch):
        kwargs["img_size"] = params.img_size or inputs.image_size
    if params.pretrained_file is None:
        return timm.create_model(params.arch, pretrained=False, **kwargs)
    f = params.pretrained_file.expanduser()
    if not f.is_file():
        raise SharpregError(f"model.pretrained_file: {f} does not exist (weights load only from a local "
                            "file; nothing is downloaded)")
    # the overlay leaves timm no remote source: only the local file
    overlay = {"file": str(f), "url": "", "hf_hub_id": None, "source": ""}
    try:
        return timm.create_model(params.arch, pretrained=True, pretrained_cfg_overlay=overlay, **kwargs)
    except (RuntimeError, KeyError, ValueError, OSError, AssertionError) as err:
        first = str(err).strip().splitlines()[0][:300] if str(err).strip() else type(err).__name__
        raise SharpregError(f"model.pretrained_file: {f} does not fit timm {params.arch!r}: {first}") from None
    except Exception as err:  # e.g. a pickle with objects that weights_only refuses
        raise SharpregError(f"model.pretrained_file: cannot load {f}: {type(err).__name__}: "
                            f"{str(err).splitlines()[0][:300] if str(err) else ''}") from None


@hookimpl
def sharpreg_models() -> list[ModelSpec]:
    return [ModelSpec("timm", TimmParams, build, "Any timm image classifier by architecture name.",
                      citation="Wightman, PyTorch Image Models")]
