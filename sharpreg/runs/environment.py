"""``environment.json``: versions, machine, command and the plugins' provenance of a run."""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata as md
from pathlib import Path
from typing import Any

PACKAGES = ("sharpreg", "torch", "torchvision", "timm", "monai", "pydantic", "pluggy", "numpy", "scikit-learn", "torchmetrics")


def environment_record(provenance: list[dict[str, Any]], extra: dict[str, Any]) -> dict[str, Any]:
    """What ran where: the command, Python, platform, package versions, plugins, git commit, ``extra``."""
    return {
        "created": datetime.now(timezone.utc).isoformat(),
        "command": sys.argv,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "hostname": socket.gethostname(),
        "packages": {p: _version(p) for p in PACKAGES},
        "plugins": provenance,
        "git_commit": _git_commit(),
        "data_env": os.environ.get("SHARPREG_DATA"),
    } | extra


def _version(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None
