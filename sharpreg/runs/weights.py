"""``model.safetensors``: a trained model's weights (parameters and buffers) for sharing."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from ..errors import RunError


def save_safetensors(path: Path, model: torch.nn.Module, metadata: dict[str, str]) -> None:
    """The model's weights as safetensors with ``metadata``, written atomically."""
    from safetensors.torch import save_file

    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    tmp = path.with_name(path.name + ".tmp")
    try:
        save_file(tensors, str(tmp), metadata=metadata)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise RunError(f"cannot write {path}: {exc.strerror or exc}") from None


def load_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except (OSError, ValueError, RuntimeError, SafetensorError) as exc:
        raise RunError(f"{path} is not a readable safetensors file ({type(exc).__name__})") from None


def read_metadata(path: Path) -> dict[str, str]:
    """The metadata of a safetensors file (what the model was trained on), without loading its tensors."""
    from safetensors import SafetensorError, safe_open

    if not Path(path).is_file():
        raise RunError(f"model file {path} not found")
    try:
        with safe_open(str(path), framework="pt") as fh:
            return dict(fh.metadata() or {})
    except (OSError, ValueError, RuntimeError, SafetensorError) as exc:
        raise RunError(f"{path} is not a readable safetensors file ({type(exc).__name__})") from None
