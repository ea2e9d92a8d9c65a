"""Throughput of the BUSI training pipeline, in one run: the first epoch (decode, resize, cache, augment)
against later epochs (augment the cached images only), a second run's first epoch (filled from the disk
cache), and the images per second one loader worker delivers beside what a GPU step consumes.

    SHARPREG_DATA=/path/to/data python benchmarks/data_pipeline.py [--image-size 224] [--epochs 3]
        [--demand IMAGES_PER_S | --gpu-json gpu_acceptance.json]

Per worker, two ways to augment: per item in the worker (what a CPU run does), or deferred (the worker only
draws each image's transforms; the batch is augmented on the device in one call, what a CUDA run does).
The deferred rate is a worker's rate plus the device's batched apply (measured on CUDA when present, else
on this CPU). The physical limit of a cached epoch is one copy of every image (the collate), at this
machine's copy bandwidth measured in the same run. The GPU step's demand is images/s of rule ``none``
(ResNet-50, 224 px, bf16) from ``benchmarks/gpu_acceptance.py --json`` or given with ``--demand``.

Numbers depend on the machine and on its load; compare the ratios, not the absolute values.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader


def epoch_seconds(ds, batch_size: int, epoch: int) -> float:
    """One pass over ``ds`` in shuffled batches (as training reads it), in seconds."""
    ds.epoch = epoch
    loader = DataLoader(ds, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(epoch))
    t = time.perf_counter()
    seen = sum(len(batch["label"]) for batch in loader)
    assert seen == len(ds)
    return time.perf_counter() - t


def apply_rate(ds, batch_size: int, device: torch.device) -> float:
    """Images per second of the batched augmentation on ``device`` (draws from a deferred data set)."""
    from sharpreg.data.augment import AUGMENT_KEY, apply

    batch = next(iter(DataLoader(ds, batch_size=batch_size)))
    x, draws = batch["image"].to(device), batch[AUGMENT_KEY]
    apply(x, draws)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    n, t = 0, time.perf_counter()
    while time.perf_counter() - t < 1.0:
        apply(x, draws)
        n += len(x)
    sync()
    return n / (time.perf_counter() - t)


def copy_bandwidth() -> float:
    """Bytes per second of one large tensor copy on this CPU (the limit of a cached epoch's collate)."""
    src = torch.rand(16 * 2**20 // 4)
    dst = torch.empty_like(src)
    dst.copy_(src)
    n, t = 0, time.perf_counter()
    while time.perf_counter() - t < 0.5:
        dst.copy_(src)
        n += 1
    return n * src.numel() * 4 / (time.perf_counter() - t)


def demand(args: argparse.Namespace) -> tuple[float | None, str]:
    if args.demand:
        return args.demand, "given with --demand"
    if args.gpu_json and args.gpu_json.is_file():
        report = json.loads(args.gpu_json.read_text())
        row = report.get("resnet50_224_bf16", {}).get("none", {})
        if row.get("images_per_s"):
            return float(row["images_per_s"]), f"rule none, ResNet-50 bf16, {report.get('device')} ({args.gpu_json})"
    return None, "unknown: run benchmarks/gpu_acceptance.py --json FILE on a GPU and pass --gpu-json FILE"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image-size", type=int, default=224)
    ap.add_argument("--epochs", type=int, default=3, help="epochs in all (the first plus cached ones)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--classes", default="benign,malignant,normal")
    ap.add_argument("--root", type=Path, default=None, help="BUSI folder (default $SHARPREG_DATA/busi)")
    ap.add_argument("--demand", type=float, default=None, help="images/s one GPU step consumes")
    ap.add_argument("--gpu-json", type=Path, default=None, help="gpu_acceptance.py's JSON (for the demand)")
    args = ap.parse_args()

    from sharpreg.data.module import DataContext
    from sharpreg_plugins.datasets.busi import BusiData, BusiParams

    torch.set_num_threads(1)  # as a loader worker runs
    params = BusiParams(root=args.root, image_size=args.image_size, classes=args.classes.split(","), cache="disk",
                        cross_class_duplicates="keep", split={"method": "stratified", "val": 0.15, "test": 0.15})
    ctx = DataContext.from_env(seed=0)
    setup_times = {}
    with tempfile.TemporaryDirectory() as cache:
        os.environ["SHARPREG_CACHE"] = cache  # cold probe and image caches, removed at the end
        for label in ("cold probe cache", "warm probe cache"):
            t = time.perf_counter()
            dm = BusiData(params, ctx)
            dm.setup()
            setup_times[label] = time.perf_counter() - t
        n_items = len(dm.items)
        t = time.perf_counter()
        ds = dm.dataset("train")
        fill = time.perf_counter() - t
        epochs = [epoch_seconds(ds, args.batch_size, e) for e in range(args.epochs)]
        again = BusiData(params, ctx)  # a second run (another process of a sweep, another rank): the disk cache
        again.setup()
        t = time.perf_counter()
        again.dataset("train")
        disk_fill = time.perf_counter() - t
        deferred = again.dataset("train", defer_augmentation=True)
        fetch = len(deferred) / epoch_seconds(deferred, args.batch_size, 0)
    n = len(ds)
    first = fill + epochs[0]
    cached = sum(epochs[1:]) / max(1, len(epochs) - 1)
    device = torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    on_device = apply_rate(deferred, args.batch_size, device)
    per_item = n / cached
    bandwidth = copy_bandwidth()
    limit = bandwidth / (4 * args.image_size**2)
    print(f"BUSI pipeline, {n_items} images ({n} train), {args.image_size} px, batch {args.batch_size}, one loader "
          f"process, torch {torch.__version__}, {os.cpu_count()} CPUs")
    for label, sec in setup_times.items():
        print(f"  setup (scan + probe {n_items} images + split), {label}: {sec:7.2f} s")
    print(f"  first epoch (decode + resize + cache {fill:.2f} s, then augment {epochs[0]:.2f} s): "
          f"{first:7.2f} s = {n / first:8.1f} images/s")
    if len(epochs) > 1:
        print(f"  cached epochs (augment only, mean of {len(epochs) - 1}):{'':14}{cached:7.2f} s = {per_item:8.1f} images/s")
        print(f"  ratio cached / first epoch throughput: {first / cached:.1f}x (goal >= 5x)")
    print(f"  a second run's cache fill from disk: {disk_fill:.2f} s ({fill / max(disk_fill, 1e-9):.1f}x faster than "
          "decoding)")
    print("images/s per loader worker:")
    print(f"  augmented per item in the worker (CPU runs):            {per_item:9.1f}")
    print(f"  draws only, batch augmented on {device.type} (CUDA runs): {1 / (1 / fetch + 1 / on_device):9.1f}"
          f"  (worker {fetch:.0f}, {device.type} apply {on_device:.0f})")
    print(f"  physical limit (one copy per image at {bandwidth / 1e9:.1f} GB/s): {limit:9.1f}; per item at "
          f"{per_item / limit:.1%} of it, draws only at {fetch / limit:.1%}")
    need, source = demand(args)
    if need is None:
        print(f"GPU step demand: {source}")
    else:
        print(f"GPU step demand: {need:.0f} images/s ({source}): workers needed "
              f"{need / per_item:.1f} augmenting per item, {need / fetch:.1f} drawing only")


if __name__ == "__main__":
    main()
