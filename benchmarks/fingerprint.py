"""Cost of the data fingerprint on BUSI: ``sharpreg data fingerprint`` with a cold cache (every image decoded,
hashed and probed) and a warm one (every file's bytes hashed to find its cached probe), each against its
physical limit measured in the same run: decoding every image once (cold), reading and hashing every
file's bytes once (warm).

    SHARPREG_DATA=/path/to/data python benchmarks/fingerprint.py [--classes benign,malignant,normal] [--repeat 3]

Each repetition starts from an empty cache; times are medians with their range. Numbers depend on the
machine and on its load; compare the ratios, not the absolute values.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def _spread(values: list[float]) -> str:
    """Median and range of repeated timings."""
    return f"{statistics.median(values):6.2f} s (range {min(values):.2f}-{max(values):.2f}, n={len(values)})"


def _time(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--classes", default="benign,malignant,normal")
    ap.add_argument("--root", type=Path, default=None, help="BUSI folder (default $SHARPREG_DATA/busi)")
    ap.add_argument("--repeat", type=int, default=3, help="repetitions, each with a fresh cache (default 3)")
    args = ap.parse_args()

    from sharpreg.data.io import read_image
    from sharpreg.data.module import DataContext
    from sharpreg.digests import file_sha256
    from sharpreg_plugins.datasets.busi import BusiData, BusiParams

    params = BusiParams(root=args.root, classes=args.classes.split(","))
    ctx = DataContext.from_env(seed=0)
    times: dict[str, list[float]] = {"cold": [], "warm": [], "decode": [], "read": []}
    prints, used = set(), 0
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as cache:
            os.environ["SHARPREG_CACHE"] = cache
            for label in ("cold", "warm"):
                dm = BusiData(params, ctx)
                times[label].append(_time(dm.identify))  # what `sharpreg data fingerprint` does: scan, probe, hash
                prints.add(dm.fingerprint)
                used = len(dm.items)
        files = [Path(it.source) for it in dm.scan()[0]]
        times["decode"].append(_time(lambda: [read_image(f) for f in files]))
        times["read"].append(_time(lambda: [file_sha256(f) for f in files]))
    assert len(prints) == 1, prints
    cold, warm = statistics.median(times["cold"]), statistics.median(times["warm"])
    decode, read = statistics.median(times["decode"]), statistics.median(times["read"])
    print(f"BUSI ({args.classes}), {len(files)} files, {used} images used, {os.cpu_count()} CPUs")
    print(f"  fingerprint {prints.pop()}")
    print(f"  cold cache: {_spread(times['cold'])} = {cold / decode:4.2f}x decoding every image once ({_spread(times['decode'])})")
    print(f"  warm cache: {_spread(times['warm'])} = {warm / read:4.2f}x reading and hashing every file once "
          f"({_spread(times['read'])})")


if __name__ == "__main__":
    main()
