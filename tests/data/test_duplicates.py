"""Probes, their disk cache, and duplicate grouping (exact pixels + perceptual-hash distance)."""

from __future__ import annotations

import numpy as np
import pytest

from sharpreg.data import duplicates as dup
from sharpreg.data.duplicates import Probe, ProbeCache, duplicate_groups, probe_array, probe_file

from .conftest import pattern, save_png


def probe(pixels: str, phash: int) -> Probe:
    return Probe(width=1, height=1, pixels=pixels, phash=phash)


def test_groups_are_connected_components_within_the_distance():
    probes = [
        probe("a", 0b0000),
        probe("b", 0b0011),  # 2 bits from a
        probe("c", 0b1111),  # 2 bits from b, 4 from a: joins through b (a chain)
        probe("d", 0xFFFF_0000),  # far from everything
        probe("a", 0xFFFF_FFFF_0000_0000),  # same pixels as the first: exact duplicate despite its hash
    ]
    groups = duplicate_groups(probes, max_distance=2)
    assert [g.members for g in groups] == [(0, 1, 2, 4)]
    assert not groups[0].exact
    assert [g.members for g in duplicate_groups(probes, max_distance=1)] == [(0, 4)]
    assert duplicate_groups(probes, max_distance=1)[0].exact
    assert [g.members for g in duplicate_groups(probes, max_distance=None)] == [(0, 4)]
    assert duplicate_groups(probes[:4], max_distance=None) == []


def test_distance_is_the_hamming_distance_of_64_bit_hashes():
    top = 1 << 63
    probes = [probe("x", top | 1), probe("y", 1)]  # differ in the highest bit only
    assert duplicate_groups(probes, max_distance=0) == []
    assert [g.members for g in duplicate_groups(probes, max_distance=1)] == [(0, 1)]


def test_chunked_comparison_equals_one_block():
    rng = np.random.default_rng(0)
    hashes = rng.integers(0, 1 << 62, size=50).tolist()
    hashes += [h ^ 1 for h in hashes[:10]]
    probes = [probe(str(i), int(h)) for i, h in enumerate(hashes)]
    assert duplicate_groups(probes, 3, chunk=7) == duplicate_groups(probes, 3, chunk=4096)
    assert len(duplicate_groups(probes, 1)) == 10


def test_probe_array_exact_and_near():
    a = pattern(1)
    same, brighter, other = probe_array(a.copy()), probe_array(np.clip(a.astype(int) + 2, 0, 255).astype(np.uint8)), probe_array(pattern(2))
    pa = probe_array(a)
    assert (pa.width, pa.height) == (48, 40)
    assert same.pixels == pa.pixels and brighter.pixels != pa.pixels
    assert bin(pa.phash ^ brighter.phash).count("1") <= 2
    assert bin(pa.phash ^ other.phash).count("1") > 10
    # dtype and shape are part of the pixel hash
    assert probe_array(a.astype(np.uint16)).pixels != pa.pixels


def test_probe_cache_is_keyed_by_content(tmp_path, monkeypatch):
    f = save_png(tmp_path / "x.png", pattern(3))
    cache = ProbeCache(tmp_path / "cache")
    first = probe_file(f, cache)
    calls = []
    real = dup.read_image
    monkeypatch.setattr(dup, "read_image", lambda p: calls.append(p) or real(p))
    assert probe_file(f, cache) == first and calls == []  # served from the cache, not decoded
    save_png(f, pattern(4))  # new content, same path
    second = probe_file(f, cache)
    assert calls == [f] and second != first
    assert len(list((tmp_path / "cache").rglob("*.json"))) == 2


def test_unwritable_cache_only_costs_time(tmp_path):
    f = save_png(tmp_path / "x.png", pattern(5))
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("")
    assert probe_file(f, ProbeCache(blocker)) == probe_array(pattern(5))


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "1"])
def test_image_modes_decode(tmp_path, mode):
    from PIL import Image

    from sharpreg.data.io import read_image

    img = Image.fromarray(pattern(6)).convert(mode)
    img.save(tmp_path / "m.png")
    a = read_image(tmp_path / "m.png")
    assert a.shape[:2] == (40, 48) and (a.ndim == 2 or a.shape[2] == 3)
