"""An exported recipe's ``[lock]`` against this machine: versions, data, and the files that travel with it.

Each difference is one short sentence. ``check``, ``run`` and ``evaluate`` print them as warnings, or stop
with ``--strict``; the recipe's own ``requires`` and ``data.fingerprint`` are enforced regardless.
"""

from __future__ import annotations

import importlib.metadata as md
import platform
from collections.abc import Callable
from pathlib import Path

from ..digests import file_sha256
from ..errors import SharpregError
from .validate import Recipe


def _installed(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def _version_differences(kind: str, wanted: dict[str, str]) -> list[str]:
    out = []
    for dist, version in sorted(wanted.items()):
        have = _installed(dist)
        if have != version:
            out.append(f"{kind} {dist} {version} ran this recipe, {f'{have} is installed' if have else 'it is not installed'}")
    return out


def _file_differences(folder: Path, what: str, name: str | None, digest: str | None) -> list[str]:
    if not name:
        return []
    path = folder / name
    if not path.is_file():
        return [f"the {what} {name} is not beside the recipe"]
    if digest and file_sha256(path) != digest:
        return [f"the {what} {name} is not the exported one (its SHA-256 differs)"]
    return []


def lock_differences(recipe: Recipe, *, data_fingerprint: str | None = None, model: bool = False) -> list[str]:
    """How this machine differs from what the recipe's ``[lock]`` recorded (empty without a lock): versions of
    the providing distributions and libraries, Python, the data (when its fingerprint is given), the split file
    and, with ``model``, the model file beside the recipe."""
    lock = recipe.lock
    if lock is None:
        return []
    out = _version_differences("distribution", lock.distributions) + _version_differences("library", lock.packages)
    if lock.python and lock.python != platform.python_version():
        out.append(f"Python {lock.python} ran this recipe, this is Python {platform.python_version()}")
    if data_fingerprint and lock.data_fingerprint and data_fingerprint != lock.data_fingerprint:
        out.append(f"the data differs: the run used {lock.data_fingerprint[:19]}…, the local data is {data_fingerprint[:19]}…")
    folder = recipe.path.parent if recipe.path else Path.cwd()
    out += _file_differences(folder, "split file", lock.split_file, lock.split_sha256)
    if model:
        out += _file_differences(folder, "model file", lock.model_file, lock.model_sha256)
    return out


class LockError(SharpregError):
    """Differences from the lock, with ``--strict``."""


def enforce(differences: list[str], *, strict: bool, warn: Callable[[str], None]) -> None:
    """Warn about each difference through ``warn(text)``, or with ``strict`` stop with all of them on one line."""
    if not differences:
        return
    if strict:
        raise LockError(f"this machine differs from the recipe's [lock] (--strict): {'; '.join(differences)}")
    for text in differences:
        warn(f"lock: {text}")
