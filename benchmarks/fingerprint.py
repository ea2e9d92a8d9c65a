"""Cost of the data fingerprint on BUSI: ``sharpreg data fingerprint`` with a cold cache (every image decoded,
hashed and probed) and a warm one (every file's bytes hashed to find its cached probe), each against its
physical limit measured in the same run: decoding every image once (cold), reading and hashing every
file's bytes once (warm).

    SHARPREG_DATA=/path/to/data python benchmarks/fingerprint.py [--classes benign,malignant,normal]

Numbers depend on the machine and on its load; compare the ratios, not the absolute values.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--classes", default="benign,malignant,normal")
    ap.add_argument("--root", type=Path, default=None, help="BUSI folder (default $SHARPREG_DATA/busi)")
    args = ap.parse_args()

    from sharpreg.data.io import read_image
    from sharpreg.data.module import DataContext
    from sharpreg.digests import file_sha256
    from sharpreg_plugins.datasets.busi import BusiData, BusiParams

    params = BusiParams(root=args.root, classes=args.classes.split(","))
    ctx = DataContext.from_env(seed=0)
    times, prints = {}, set()
    with tempfile.TemporaryDirectory() as cache:
        os.environ["SHARPREG_CACHE"] = cache
        for label in ("cold cache", "warm cache"):
            t = time.perf_counter()
            dm = BusiData(params, ctx)
            dm.identify()  # what `sharpreg data fingerprint` does: scan, probe, hash; no split
            times[label] = time.perf_counter() - t
            prints.add(dm.fingerprint)
    files = [Path(it.source) for it in dm.scan()[0]]
    t = time.perf_counter()
    for f in files:
        read_image(f)
    decode = time.perf_counter() - t
    t = time.perf_counter()
    for f in files:
        file_sha256(f)
    read = time.perf_counter() - t
    assert len(prints) == 1
    print(f"BUSI ({args.classes}), {len(files)} files, {len(dm.items)} images used, {os.cpu_count()} CPUs")
    print(f"  fingerprint {prints.pop()}")
    print(f"  cold cache: {times['cold cache']:6.2f} s = {times['cold cache'] / decode:4.2f}x decoding every image once "
          f"({decode:.2f} s)")
    print(f"  warm cache: {times['warm cache']:6.2f} s = {times['warm cache'] / read:4.2f}x reading and hashing every "
          f"file once ({read:.2f} s)")


if __name__ == "__main__":
    main()
