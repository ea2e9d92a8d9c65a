"""Throughput of the BUSI training pipeline: the first epoch (decode, resize, cache, augment) against
later epochs (augment the cached images only), as images per second and their ratio, in one run.

Also times ``setup()`` (scan, probe every image for size / corruption / duplicates, split) with a cold
probe cache and a warm one.

    SHARPREG_DATA=/path/to/data python benchmarks/data_pipeline.py [--image-size 224] [--epochs 3]

Numbers depend on the machine and on its load; compare the ratio, not the absolute values.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image-size", type=int, default=224)
    ap.add_argument("--epochs", type=int, default=3, help="epochs in all (the first plus cached ones)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--num-workers", type=int, default=0)
    ap.add_argument("--classes", default="benign,malignant,normal")
    ap.add_argument("--root", type=Path, default=None, help="BUSI folder (default $SHARPREG_DATA/busi)")
    args = ap.parse_args()

    from sharpreg.data.module import DataContext
    from sharpreg_plugins.datasets.busi import BusiData, BusiParams

    params = BusiParams(root=args.root, image_size=args.image_size, classes=args.classes.split(","),
                        cross_class_duplicates="keep", split={"method": "stratified", "val": 0.15, "test": 0.15})
    ctx = DataContext.from_env(seed=0)
    setup_times = {}
    with tempfile.TemporaryDirectory() as cache:
        os.environ["SHARPREG_CACHE"] = cache
        for label in ("cold probe cache", "warm probe cache"):
            t = time.perf_counter()
            dm = BusiData(params, ctx)
            dm.setup()
            setup_times[label] = time.perf_counter() - t

    n_items = len(dm.items)
    t = time.perf_counter()
    ds = dm.dataset("train")
    fill = time.perf_counter() - t
    epochs: list[float] = []
    for epoch in range(args.epochs):
        dm.set_epoch(epoch)
        loader = DataLoader(ds, batch_size=args.batch_size, shuffle=True, num_workers=args.num_workers,
                            generator=torch.Generator().manual_seed(epoch))
        t = time.perf_counter()
        seen = sum(len(batch["label"]) for batch in loader)
        epochs.append(time.perf_counter() - t)
    n = len(ds)
    assert seen == n
    first = fill + epochs[0]
    cached = sum(epochs[1:]) / max(1, len(epochs) - 1)
    print(f"BUSI pipeline, {n_items} images ({n} train), {args.image_size} px, batch {args.batch_size}, "
          f"{args.num_workers} workers, torch {torch.__version__}, {os.cpu_count()} CPUs")
    for label, sec in setup_times.items():
        print(f"  setup (scan + probe {n_items} images + split), {label}: {sec:7.2f} s")
    print(f"  first epoch (decode + resize + cache {fill:.2f} s, then augment {epochs[0]:.2f} s): "
          f"{first:7.2f} s = {n / first:8.1f} images/s")
    if len(epochs) > 1:
        print(f"  cached epochs (augment only, mean of {len(epochs) - 1}):{'':14}{cached:7.2f} s = "
              f"{n / cached:8.1f} images/s")
        print(f"  ratio cached / first epoch throughput: {first / cached:.1f}x")


if __name__ == "__main__":
    main()
