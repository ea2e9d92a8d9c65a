"""Exact and near-duplicate images: probe each image once (size, pixel hash, perceptual hash),
cache the probe on disk keyed by the file's content hash, and group duplicates.

Exact duplicates have identical decoded pixels; near-duplicates have perceptual hashes
(``imagehash.phash``, 64 bits) within a Hamming distance. Groups are the connected components of
both relations, so a chain of near-duplicates forms one group.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import imagehash
import numpy as np
from PIL import Image

from ..digests import file_sha256
from .identity import pixel_hash
from .io import read_image

CACHE_ENV = "SHARPREG_CACHE"
PROBE_VERSION = "probe-v1"


@dataclass(frozen=True)
class Probe:
    """What one decode of an image tells: its size, a hash of its pixels and its perceptual hash."""

    width: int
    height: int
    pixels: str
    """SHA-256 of the decoded pixels (with shape and dtype): equal means identical images"""
    phash: int
    """64-bit perceptual hash (DCT of a 32×32 grey thumbnail)"""


def cache_home() -> Path:
    """``$SHARPREG_CACHE``, else ``$XDG_CACHE_HOME/sharpreg``, else ``~/.cache/sharpreg``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "sharpreg"


def probe_array(a: np.ndarray) -> Probe:
    """Probe an image already in memory (H×W or H×W×C, any numeric dtype)."""
    a = np.ascontiguousarray(a)
    grey = a.astype(np.float64)
    if grey.ndim == 3:
        grey = grey[..., :3].mean(axis=2)
    lo, hi = float(grey.min()), float(grey.max())
    grey8 = np.zeros(grey.shape, np.uint8) if hi <= lo else ((grey - lo) * (255.0 / (hi - lo))).round().astype(np.uint8)
    ph = imagehash.phash(Image.fromarray(grey8))
    bits = np.packbits(ph.hash.flatten().astype(np.uint8))
    return Probe(width=int(a.shape[1]), height=int(a.shape[0]), pixels=pixel_hash(a),
                 phash=int.from_bytes(bits.tobytes(), "big"))


class ProbeCache:
    """Probes on disk, one small JSON file per file-content hash (safe under parallel writers)."""

    def __init__(self, root: Path | None = None, enabled: bool = True) -> None:
        self.root = (root or cache_home()) / PROBE_VERSION
        self.enabled = enabled

    def _path(self, digest: str) -> Path:
        return self.root / digest[:2] / f"{digest}.json"

    def get(self, digest: str) -> Probe | None:
        if not self.enabled:
            return None
        try:
            return Probe(**json.loads(self._path(digest).read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def put(self, digest: str, probe: Probe) -> None:
        if not self.enabled:
            return
        target = self._path(digest)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
            with os.fdopen(fd, "w") as f:
                json.dump(asdict(probe), f)
            os.replace(tmp, target)
        except OSError:  # an unwritable cache only costs time
            pass


def probe_file(path: Path, cache: ProbeCache | None = None) -> Probe:
    """Probe a file (decoding it only when its content is not in the cache)."""
    digest = file_sha256(path) if cache is not None and cache.enabled else ""
    if digest:
        hit = cache.get(digest)  # type: ignore[union-attr]
        if hit is not None:
            return hit
    probe = probe_array(read_image(path))
    if digest:
        cache.put(digest, probe)  # type: ignore[union-attr]
    return probe


def probe_sources(sources: Sequence[Any], cache: ProbeCache | None = None,
                  on_error: Callable[[int, Exception], None] | None = None) -> list[Probe | None]:
    """Probe paths or arrays; a ``DataError`` goes to ``on_error(index, err)`` when given (the
    probe is then ``None``), else it propagates."""
    from ..errors import DataError

    out: list[Probe | None] = []
    for i, src in enumerate(sources):
        try:
            out.append(probe_array(np.asarray(src)) if not isinstance(src, (str, Path)) else probe_file(Path(src), cache))
        except DataError as err:
            if on_error is None:
                raise
            on_error(i, err)
            out.append(None)
    return out


@dataclass(frozen=True)
class DuplicateGroup:
    """Indices of images that are copies of each other; ``exact`` when all pixels are identical."""

    members: tuple[int, ...]
    exact: bool


class UnionFind:
    """Disjoint sets over 0..n-1; every set is named by its smallest member."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, a: int) -> int:
        while self.parent[a] != a:
            self.parent[a] = self.parent[self.parent[a]]
            a = self.parent[a]
        return a

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def duplicate_groups(probes: Sequence[Probe], max_distance: int | None, chunk: int = 2048) -> list[DuplicateGroup]:
    """Connected components (size > 1) of "identical pixels" and, unless ``max_distance`` is None,
    "perceptual hashes within ``max_distance`` bits". Sorted by their first member."""
    n = len(probes)
    uf = UnionFind(n)
    union = uf.union
    first: dict[str, int] = {}
    for i, p in enumerate(probes):
        if p.pixels in first:
            union(first[p.pixels], i)
        else:
            first[p.pixels] = i
    if max_distance is not None and n > 1:
        h = np.array([p.phash for p in probes], dtype=np.uint64)
        for start in range(0, n, chunk):
            block = h[start:start + chunk]
            dist = np.bitwise_count(block[:, None] ^ h[None, :])
            ii, jj = np.nonzero(dist <= max_distance)
            for a, b in zip(ii + start, jj):
                if a < b:
                    union(int(a), int(b))
    comps: dict[int, list[int]] = {}
    for i in range(n):
        comps.setdefault(uf.find(i), []).append(i)
    groups = []
    for members in comps.values():
        if len(members) > 1:
            exact = len({probes[i].pixels for i in members}) == 1
            groups.append(DuplicateGroup(tuple(members), exact))
    return sorted(groups, key=lambda g: g.members[0])
