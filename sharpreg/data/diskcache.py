"""Decoded, resized images on disk (``data.cache = "disk"``), shared by every process that reads the same
images the same way: the runs of a sweep, the processes of a multi-process run, the next run tomorrow.

One ``.npy`` file per image under ``$SHARPREG_CACHE/images-v1/`` (default ``~/.cache/sharpreg``), named by
a hash of the image's content and of the preprocessing (data set, its parameters, image size, channels).
Files are written to a temporary name and renamed, so parallel writers never leave a torn file; they are
read with ``allow_pickle=False``. An unreadable or unwritable cache costs time, never a result. Delete the
folder to free the space; it fills again as runs need it.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from .duplicates import cache_home

VERSION = "images-v1"


def cache_key(source: str, signature: str) -> str:
    """The file name stem of one image prepared one way."""
    return hashlib.sha256(json.dumps([source, signature]).encode()).hexdigest()


def cache_mode(module: Any) -> str:
    """An image data module's ``data.cache`` with ``auto`` decided: the disk for images decoded from files."""
    return ("disk" if module.probe_images else "memory") if module.params.cache == "auto" else module.params.cache


def image_keys(module: Any, items: list[Any], *, normalized: bool = False) -> list[str]:
    """The keys of an image data module's items: each image's content (its probe's pixel hash, else its
    source) and how it is prepared (the module's class and parameters, less split, augmentation and cache;
    ``normalized``: the cached image is after ``data.normalize`` too, as in a chain without augmentation)."""
    params = module.params.model_dump_json(exclude={"split", "augment", "cache"})
    stage = "normalized" if normalized else "preprocessed"
    signature = f"{type(module).__module__}.{type(module).__qualname__}:{params}:{stage}"
    return [cache_key(source_key(it.source, getattr(module.probes.get(it.id), "pixels", None),
                                 module.record_extras(it)), signature) for it in items]


def source_key(source: Any, pixels: str | None = None, extras: dict[str, Any] | None = None) -> str:
    """What identifies an image's content: the hash of its decoded pixels where a probe has it; else a
    file's path, size and modification time, an array's bytes, or a generator's arguments. Files among
    ``extras`` (e.g. lesion masks for a crop) count with their size and time too."""
    if pixels:
        key = f"pixels:{pixels}"
    elif isinstance(source, (str, Path)):
        key = f"file:{_file_stamp(source)}"
    elif isinstance(source, np.ndarray):
        a = np.ascontiguousarray(source)
        key = "array:" + hashlib.sha256(f"{a.dtype.str}{a.shape}".encode() + a.tobytes()).hexdigest()
    else:
        key = f"value:{source!r}"
    if extras:
        key += ":" + json.dumps(_stamped(extras), sort_keys=True, default=str)
    return key


def _file_stamp(path: str | Path) -> str:
    p = Path(path).expanduser().absolute()
    try:
        st = p.stat()
    except OSError:
        return str(p)
    return f"{p}:{st.st_size}:{st.st_mtime_ns}"


def _stamped(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _stamped(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_stamped(v) for v in value]
    if isinstance(value, (str, Path)) and Path(value).is_file():
        return _file_stamp(value)
    return value


class ImageCache:
    """Arrays on disk by key (see the module docstring)."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = (root or cache_home()) / VERSION

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npy"

    def get(self, key: str) -> np.ndarray | None:
        try:
            return np.load(self.path(key), allow_pickle=False)
        except (OSError, ValueError, EOFError):
            return None

    def put(self, key: str, array: np.ndarray) -> None:
        target = self.path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as fh:
                    np.save(fh, np.ascontiguousarray(array), allow_pickle=False)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError:  # a full or read-only disk costs the next run time, nothing else
            pass
