"""Checkpoints: plain data only, written atomically, read with ``torch.load(weights_only=True)``.

A checkpoint is a dict of tensors, numbers, strings, lists, tuples and dicts, nothing else: it is
checked before it is written, and it is read with ``weights_only=True`` and never with a fallback,
so a file holding a pickled object is refused (an error naming the file), not executed.
Weights for sharing go to ``model.safetensors`` (``weights.py``).
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from ..errors import RunError

FORMAT = 1
KIND = "sharpreg-checkpoint"
PLAIN = (str, int, float, bool, type(None), torch.Tensor)


def check_plain(value: Any, where: str = "checkpoint") -> None:
    """Raise ``TypeError`` naming the first value that is not plain data."""
    if isinstance(value, PLAIN):
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, (str, int)):
                raise TypeError(f"{where}: key {k!r} is a {type(k).__name__}, not a string or integer")
            check_plain(v, f"{where}.{k}")
        return
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            check_plain(v, f"{where}[{i}]")
        return
    raise TypeError(f"{where} is a {type(value).__module__}.{type(value).__qualname__}, not plain data")


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` (plain data) to ``path`` atomically: a temporary file, fsync, then rename."""
    payload = {"kind": KIND, "format": FORMAT, **state}
    check_plain(payload)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as fh:
            torch.save(payload, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise RunError(f"cannot write the checkpoint {path}: {exc.strerror or exc}") from None


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`; anything else is a ``RunError`` naming ``path``."""
    path = Path(path)
    if not path.is_file():
        raise RunError(f"checkpoint {path} not found")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        raise RunError(f"checkpoint {path} holds more than plain data (a pickled object?) and is refused; sharpreg "
                       "never loads checkpoints with weights_only=False") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as exc:
        raise RunError(f"checkpoint {path} is corrupt or truncated and cannot be read ({type(exc).__name__})") from None
    if not isinstance(state, dict) or state.get("kind") != KIND:
        raise RunError(f"checkpoint {path} is not a sharpreg checkpoint")
    if state.get("format") != FORMAT:
        raise RunError(f"checkpoint {path} has format {state.get('format')!r}; this sharpreg reads format {FORMAT}")
    return state

