"""Which data a run saw: a content hash per image, one fingerprint per data set as used, and split files
that name images by content.

An image's content hash is the SHA-256 of its decoded pixels (dtype, shape and values), so a rename or a
lossless re-encode leaves it unchanged. A data set's fingerprint hashes the sorted (content hash, class
name) pairs of the images it uses. A split file lists every image's content hash, class and split, so
another lab's copy of the data (renamed, re-encoded, in another folder order) gets the same split, and
a difference between two copies can be told image by image.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError
from ..specs import FINGERPRINT_PATTERN

_HASH = re.compile(r"[0-9a-f]{64}")
SPLIT_FORMAT = "sharpreg-split"
SPLIT_VERSION = 1
_SPLITS = ("train", "val", "test", None)
SHOWN = 3
"""how many image names a difference lists per kind"""


def pixel_hash(a: np.ndarray) -> str:
    """SHA-256 of an image's decoded pixels, with their dtype and shape (equal means identical images)."""
    a = np.ascontiguousarray(a)
    h = hashlib.sha256(f"{a.dtype.str}{a.shape}".encode())
    h.update(a.tobytes())
    return h.hexdigest()


def fingerprint(pairs: Iterable[tuple[str, str]]) -> str:
    """``sha256:…`` of the (content hash, class name) pairs, in sorted order (the order of images, their
    names and folders do not count; a repeated image counts each time)."""
    h = hashlib.sha256(b"sharpreg-data-v1\n")
    for pair in sorted(pairs):
        h.update(json.dumps(list(pair)).encode() + b"\n")
    return "sha256:" + h.hexdigest()


def short(fp: str) -> str:
    """A fingerprint shortened for messages."""
    return fp[:19] + "…" if len(fp) > 20 else fp


@dataclass(frozen=True)
class Listed:
    """One image of a split file: its content hash, class, split (None: left out on purpose) and the
    name it had where the file was written."""

    hash: str
    label: str
    split: str | None
    id: str
    fold: int | None = None


@dataclass(frozen=True)
class Local:
    """One image of the local copy: its name, content hash and class."""

    id: str
    hash: str
    label: str


@dataclass
class DataDiff:
    """How a local copy differs from the images a split file lists."""

    matched: dict[str, Listed] = field(default_factory=dict)
    """local image name -> the listed image it is"""
    missing: list[Listed] = field(default_factory=list)
    extra: list[Local] = field(default_factory=list)
    relabelled: list[tuple[Local, Listed]] = field(default_factory=list)

    @property
    def same(self) -> bool:
        return not (self.missing or self.extra or self.relabelled)

    def describe(self) -> str:
        """One line: how many images are missing, extra or relabelled, with a few names each."""
        def names(values: Sequence[str]) -> str:
            more = f", … ({len(values) - SHOWN} more)" if len(values) > SHOWN else ""
            return " (" + ", ".join(values[:SHOWN]) + more + ")" if values else ""

        missing = [m.id for m in self.missing]
        extra = [e.id for e in self.extra]
        moved = [f"{loc.id}: {listed.label} there, {loc.label} here" for loc, listed in self.relabelled]
        return (f"{len(missing)} missing{names(missing)}, {len(extra)} extra{names(extra)}, "
                f"{len(moved)} relabelled{names(moved)}")


def compare(listed: Sequence[Listed], local: Sequence[Local]) -> DataDiff:
    """Match local images to listed ones by content hash and class; what is left over is missing, extra
    or, where the same content carries another class, relabelled. Deterministic (by name)."""
    want: dict[str, list[Listed]] = defaultdict(list)
    for entry in sorted(listed, key=lambda e: (e.hash, e.label, e.id)):
        want[entry.hash].append(entry)
    have: dict[str, list[Local]] = defaultdict(list)
    for item in sorted(local, key=lambda e: (e.hash, e.label, e.id)):
        have[item.hash].append(item)
    diff = DataDiff()
    for content in sorted(set(want) | set(have)):
        rest_want, rest_have = list(want.get(content, [])), []
        for item in have.get(content, []):
            same = next((e for e in rest_want if e.label == item.label), None)
            if same is None:
                rest_have.append(item)
            else:
                rest_want.remove(same)
                diff.matched[item.id] = same
        pairs = min(len(rest_want), len(rest_have))
        diff.relabelled += list(zip(rest_have[:pairs], rest_want[:pairs]))
        diff.missing += rest_want[pairs:]
        diff.extra += rest_have[pairs:]
    for part in (diff.missing, diff.extra):
        part.sort(key=lambda e: e.id)
    diff.relabelled.sort(key=lambda p: p[0].id)
    return diff


@dataclass(frozen=True)
class SplitFile:
    """A split file (``split.json`` of a run, or ``sharpreg data split -o FILE``) as read back."""

    path: Path
    fingerprint: str
    items: tuple[Listed, ...]

    @property
    def counts(self) -> Counter[str]:
        return Counter(e.split or "left out" for e in self.items)


def split_items(entries: Iterable[Listed]) -> list[dict[str, Any]]:
    """The ``items`` of a split file: one record per image, sorted by content."""
    out = []
    for e in sorted(entries, key=lambda e: (e.hash, e.label, e.id)):
        rec: dict[str, Any] = {"hash": e.hash, "class": e.label, "split": e.split, "id": e.id}
        if e.fold is not None:
            rec["fold"] = e.fold
        out.append(rec)
    return out


def _bad(path: Path, what: str) -> DataError:
    return DataError(f"{path} is not a sharpreg split file ({what}); write one with `sharpreg data split RECIPE -o FILE` "
                     "or use a run's split.json")


def read_split_file(path: Path) -> SplitFile:
    """Read and check a split file; anything malformed is a ``DataError`` naming the file and the problem
    (never its content)."""
    path = Path(path)
    if not path.is_file():
        hint = " (it is a folder)" if path.is_dir() else ""
        raise DataError(f"split file {path} not found{hint}; data.split.file names the split file that travels with "
                        "the recipe (`sharpreg export` writes it beside the exported recipe)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise _bad(path, f"not JSON: {type(exc).__name__}") from None
    if not isinstance(data, dict) or data.get("format") != SPLIT_FORMAT:
        raise _bad(path, f"no \"format\": \"{SPLIT_FORMAT}\"")
    if data.get("version") != SPLIT_VERSION:
        raise _bad(path, f"version {data.get('version')!r}; this sharpreg reads version {SPLIT_VERSION}")
    fp, items = data.get("fingerprint"), data.get("items")
    if not isinstance(fp, str) or not re.fullmatch(FINGERPRINT_PATTERN, fp):
        raise _bad(path, "its fingerprint is not 'sha256:' and 64 hex digits")
    if not isinstance(items, list) or not items:
        raise _bad(path, "no items")
    listed = []
    for n, rec in enumerate(items):
        if not (isinstance(rec, dict) and isinstance(rec.get("hash"), str) and _HASH.fullmatch(rec["hash"])
                and isinstance(rec.get("class"), str) and rec.get("split") in _SPLITS
                and isinstance(rec.get("id", ""), str) and isinstance(rec.get("fold", 0), int)):
            raise _bad(path, f"item {n + 1} needs a 64-hex-digit hash, a class and a split of train, val, test or null")
        listed.append(Listed(rec["hash"], rec["class"], rec["split"], rec.get("id") or rec["hash"][:12], rec.get("fold")))
    if fingerprint((e.hash, e.label) for e in listed) != fp:
        raise _bad(path, "its fingerprint does not match its items: edited by hand?")
    return SplitFile(path, fp, tuple(listed))
