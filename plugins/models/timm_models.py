"""``timm``: any timm architecture by name; pretrained weights only from a local file.

``in_chans`` and ``num_classes`` come from the data set. Architectures built for a fixed input size
(ViT, Swin, ...) get ``img_size`` (default: the data's image size). Pretrained weights load only
from ``pretrained_file`` (.safetensors, or .pth/.bin read with ``weights_only=True``), strictly, except
that a first convolution trained on another channel count is adapted (timm's ``adapt_input_conv``)
and a classifier of another size stays freshly initialized. timm's hub is never consulted.

``stem = "small_input"`` keeps a ResNet's first stage at the input's resolution, as the 28 px ResNets
of MedMNIST v2 (and CIFAR ResNets) do: no max-pool, and a 3x3 stride-1 first convolution (a deep stem,
e.g. resnet10t or resnet50d, keeps its convolutions and only its first stride becomes 1). A 28 px image
then reaches the first stage at 28x28 instead of 7x7.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Collection
from pathlib import Path
from typing import Literal

import torch
from pydantic import Field

from sharpreg import ModelInputs, ModelParams, ModelSpec, hookimpl
from sharpreg.errors import SharpregError

log = logging.getLogger("sharpreg")

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
    stem: Literal["default", "small_input"] = Field(
        "default",
        description="'small_input': a ResNet keeps the input resolution in its first stage (no max-pool; a 3x3 "
        "stride-1 first convolution, or stride 1 in a deep stem), as MedMNIST v2's 'ResNet-18 (28)'. With "
        "pretrained_file, a 7x7 first convolution's weights do not fit and it stays freshly initialized.",
    )
    memory_format: Literal["contiguous", "channels_last"] = Field(
        "contiguous",
        description="Layout of weights (and so of activations): 'channels_last' is faster for CNNs on CPUs "
        "with oneDNN and on GPUs with tensor cores (same model, same results up to rounding).",
    )

    def architecture(self) -> str:
        return self.arch


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
    if params.pretrained_file is not None and not params.pretrained_file.expanduser().is_file():
        raise SharpregError(f"model.pretrained_file: {params.pretrained_file.expanduser()} does not exist "
                            "(weights load only from a local file; nothing is downloaded)")
    if params.stem == "small_input" and not timm.models.is_model_in_modules(params.arch, ["resnet"]):
        raise SharpregError(f"model.stem = 'small_input' works with timm's ResNet family (resnet18, resnet50, "
                            f"resnet10t, seresnext26d_32x4d, ...), not {params.arch!r}; use stem = 'default'")
    model = timm.create_model(params.arch, pretrained=False, **kwargs)
    fresh = small_input_stem(model, params.arch) if params.stem == "small_input" else ()
    if params.pretrained_file is not None:
        load_local_weights(model, params.pretrained_file.expanduser(), params.arch, fresh=fresh)
    if params.memory_format == "channels_last":
        model = model.to(memory_format=torch.channels_last)
    return model


def small_input_stem(model: torch.nn.Module, arch: str) -> tuple[str, ...]:
    """Make a timm ResNet keep the input resolution up to its first stage: the max-pool goes, and the
    first convolution strides 1 (a single 7x7 convolution becomes a new 3x3 one, initialized as timm
    initializes ResNet convolutions). Returns the weights that no longer fit a default-stem file."""
    from torch import nn

    conv, pool = getattr(model, "conv1", None), getattr(model, "maxpool", None)
    if not isinstance(pool, (nn.MaxPool2d, nn.Identity)) or not isinstance(conv, (nn.Conv2d, nn.Sequential)):
        raise SharpregError(f"model.stem = 'small_input' does not know the stem of {arch!r} "
                            f"({type(conv).__name__} then {type(pool).__name__}); use stem = 'default'")
    model.maxpool = nn.Identity()
    fresh: tuple[str, ...] = ()
    if isinstance(conv, nn.Sequential):  # deep stem: the same convolutions, the first one at stride 1
        conv[0].stride = (1, 1)
    else:
        new = nn.Conv2d(conv.in_channels, conv.out_channels, kernel_size=3, stride=1, padding=1, bias=False)
        nn.init.kaiming_normal_(new.weight, mode="fan_out", nonlinearity="relu")
        model.conv1 = new.to(conv.weight.device, conv.weight.dtype)
        fresh = ("conv1.weight",) if conv.kernel_size != (3, 3) else ()
    for info in getattr(model, "feature_info", []):  # timm's record of each stage's stride
        info["reduction"] = 1 if info.get("module") == "act1" else max(1, info["reduction"] // 4)
    return fresh


def read_state_dict(f: Path) -> dict[str, torch.Tensor]:
    """Tensors of a local weights file: safetensors, or a torch pickle read with ``weights_only=True``
    (a training checkpoint's ``state_dict`` / ``model`` / ``state_dict_ema`` entry is unwrapped)."""
    if not f.is_file():
        raise SharpregError(f"model.pretrained_file: {f} does not exist (weights load only from a local "
                            "file; nothing is downloaded)")
    try:
        if f.suffix == ".safetensors":
            from safetensors.torch import load_file

            sd = load_file(str(f), device="cpu")
        else:
            sd = torch.load(f, map_location="cpu", weights_only=True)
    except Exception as err:  # unpickling refusals, truncated files, wrong formats (their bytes are not quoted)
        raise SharpregError(f"model.pretrained_file: cannot load {f} ({type(err).__name__}): it is neither a "
                            "safetensors file nor a torch state dict of plain tensors") from None
    for key in ("state_dict_ema", "model_ema", "state_dict", "model"):
        if isinstance(sd, dict) and isinstance(sd.get(key), dict):
            sd = sd[key]
            break
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise SharpregError(f"model.pretrained_file: {f} holds no state dict of tensors")
    return {k.removeprefix("module.").removeprefix("_orig_mod."): v for k, v in sd.items()}


def load_local_weights(model: torch.nn.Module, f: Path, arch: str, fresh: Collection[str] = ()) -> None:
    """Load ``f`` into ``model`` strictly, with three adaptations only: a first convolution trained on
    another channel count (timm's ``adapt_input_conv``, e.g. RGB summed into grey), a classifier of
    another size (kept as initialized) and a ViT position embedding of another grid (resampled).
    Tensors named in ``fresh`` (a replaced stem) stay as initialized when their shapes differ, with a
    warning. Any other missing, unexpected or misshapen tensor is an error."""
    from timm.models import adapt_input_conv

    sd = read_state_dict(f)
    own = model.state_dict()
    cfg = getattr(model, "pretrained_cfg", {}) or {}
    first = cfg.get("first_conv")
    first = first[0] if isinstance(first, (list, tuple)) else first
    heads = cfg.get("classifier") or ()
    heads = (heads,) if isinstance(heads, str) else tuple(heads)
    is_head = lambda k: any(k.startswith(h + ".") for h in heads)  # noqa: E731
    missing = [k for k in own if k not in sd and not is_head(k)]
    unexpected = [k for k in sd if k not in own]
    out: dict[str, torch.Tensor] = {}
    misshapen: list[str] = []
    for k, v in own.items():
        w = sd.get(k)
        if w is None:
            out[k] = v
        elif w.shape == v.shape:
            out[k] = w.to(v.dtype)
        elif first and k == f"{first}.weight" and w.ndim == 4 and w.shape[0] == v.shape[0] and w.shape[2:] == v.shape[2:]:
            out[k] = adapt_input_conv(v.shape[1], w).to(v.dtype)
        elif is_head(k):
            out[k] = v
        elif k in fresh:
            out[k] = v
            log.warning("model.pretrained_file: %s %s in %s does not fit the small-input stem %s; it stays freshly "
                        "initialized", k, tuple(w.shape), f.name, tuple(v.shape))
        elif k == "pos_embed" and w.ndim == 3 and hasattr(model, "patch_embed"):
            from timm.layers import resample_abs_pos_embed

            prefix = 0 if getattr(model, "no_embed_class", False) else getattr(model, "num_prefix_tokens", 1)
            out[k] = resample_abs_pos_embed(w, new_size=list(model.patch_embed.grid_size),
                                            num_prefix_tokens=prefix).to(v.dtype)
        else:
            misshapen.append(f"{k} {tuple(w.shape)} vs {tuple(v.shape)}")
    problems = [f"missing {', '.join(missing[:3])}" if missing else "",
                f"unexpected {', '.join(unexpected[:3])}" if unexpected else "",
                f"shape {'; '.join(misshapen[:3])}" if misshapen else ""]
    problems = [p for p in problems if p]
    if problems:
        counts = f"({len(missing)} missing, {len(unexpected)} unexpected, {len(misshapen)} misshapen)"
        raise SharpregError(f"model.pretrained_file: {f} does not fit timm {arch!r} {counts}: {'; '.join(problems)}")
    model.load_state_dict(out, strict=True)


@hookimpl
def sharpreg_models() -> list[ModelSpec]:
    return [ModelSpec("timm", TimmParams, build, "Any timm image classifier by architecture name.",
                      citation="Wightman, PyTorch Image Models")]
