"""What one training step of the BreastMNIST protocol (ResNet-18 (28), batch 128, Adam) costs on this CPU,
and what each speed setting saves, measured in one run (no timed asserts anywhere).

Settings, each a ratio to the first (``as_before``: NCHW weights, deterministic mode with torch's
``fill_uninitialized_memory`` on), rule by rule:

* ``no_fill``: deterministic mode without filling every new tensor with NaN (torch's debugging aid for
  reads of uninitialized memory; deterministic algorithms stay on, results are bit-identical);
* ``channels_last``: ``no_fill`` plus weights and activations in channels-last layout
  (``model.memory_format = "channels_last"``).

The physical limit is this machine's fp32 matrix-multiply rate (a 1024^3 ``torch.mm``) at the same
thread count, measured in the same run; the step's FLOPs come from torch's ``FlopCounterMode``.
Times are the fastest of ``--rounds`` interleaved repetitions: with ``--threads 1`` the process's CPU
time (undisturbed by other processes on a shared machine), with more threads the wall time.

Usage::

    python benchmarks/breastmnist_step.py [--threads 1] [--rounds 3] [--rules none,sam] [--quick] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import sharpreg_plugins.rules as first_party
from sharpreg import ModelInputs
from sharpreg.engine import SharpnessStep
from sharpreg_plugins.models.timm_models import TimmParams, build

RULES = {s.name: s for s in first_party.sharpreg_sharpness_rules()}
SETTINGS = {"as_before": ("contiguous", True), "no_fill": ("contiguous", False),
            "channels_last": ("channels_last", False)}
TRAIN_IMAGES, EPOCHS, SEEDS = 546, 100, 3


def model_for(memory_format: str) -> nn.Module:
    torch.manual_seed(0)
    params = TimmParams(arch="resnet18", stem="small_input", memory_format=memory_format)
    return build(params, ModelInputs(in_chans=1, num_classes=2, image_size=28))


def engine_for(model: nn.Module, rule: str) -> SharpnessStep:
    spec = RULES[rule]
    params = spec.params()
    return SharpnessStep(model, torch.optim.Adam(model.parameters(), lr=1e-3), spec.factory(params), params)


def matmul_gflops(clock, reps: int = 5) -> float:
    """The fp32 matrix-multiply rate: the physical limit a convolution network can approach."""
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    a @ b
    best = math.inf
    for _ in range(reps):
        t = clock()
        a @ b
        best = min(best, clock() - t)
    return 2 * 1024**3 / best / 1e9


def step_flops(batch: torch.Tensor, labels: torch.Tensor) -> float:
    model = model_for("contiguous")
    with FlopCounterMode(display=False) as counter:
        nn.functional.cross_entropy(model(batch), labels).backward()
    return float(counter.get_total_flops())


def measure(rules: list[str], batch_size: int, rounds: int, clock) -> tuple[dict[tuple[str, str], list[float]], float]:
    """Step times of every (setting, rule), interleaved round by round, and the matmul limit."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch_size, 1, 28, 28, generator=gen)
    y = torch.randint(0, 2, (batch_size,), generator=gen)
    engines = {(s, r): engine_for(model_for(fmt), r) for s, (fmt, _) in SETTINGS.items() for r in rules}
    samples: dict[tuple[str, str], list[float]] = {k: [] for k in engines}
    limit = 0.0
    for i in range(rounds + 1):  # round 0 warms up (allocations, oneDNN primitives)
        limit = max(limit, matmul_gflops(clock))
        for (setting, rule), engine in engines.items():
            torch.utils.deterministic.fill_uninitialized_memory = SETTINGS[setting][1]
            t = clock()
            engine.step([(x, y)], nn.functional.cross_entropy)
            if i:
                samples[(setting, rule)].append(clock() - t)
    torch.utils.deterministic.fill_uninitialized_memory = True
    return samples, limit


def passes(rule: str) -> int:
    return RULES[rule].factory(RULES[rule].params()).passes(0)


def report(samples: dict[tuple[str, str], list[float]], limit: float, flops_per_pass: float, batch_size: int,
           threads: int) -> list[dict]:
    steps_per_epoch = TRAIN_IMAGES / batch_size  # the last, partial batch costs in proportion
    rows = []
    for (setting, rule), times in samples.items():
        best, base = min(times), min(samples[("as_before", rule)])
        gflops = passes(rule) * flops_per_pass / best / 1e9
        rows.append({"rule": rule, "setting": setting, "threads": threads, "batch": batch_size,
                     "step_s": round(best, 3), "ratio_to_as_before": round(best / base, 3),
                     "gflop_per_s": round(gflops, 1), "fraction_of_matmul_limit": round(gflops / limit, 3),
                     "epoch_s": round(best * steps_per_epoch, 1)})
    print(f"matmul limit: {limit:.1f} GFLOP/s at {threads} thread(s); one pass (forward + backward) of "
          f"{batch_size} images: {flops_per_pass / 1e9:.1f} GFLOP")
    print(f"{'rule':6} {'setting':14} {'step s':>7} {'ratio':>6} {'GFLOP/s':>8} {'of limit':>8} {'epoch s':>8}")
    for r in rows:
        print(f"{r['rule']:6} {r['setting']:14} {r['step_s']:7.3f} {r['ratio_to_as_before']:6.3f} "
              f"{r['gflop_per_s']:8.1f} {r['fraction_of_matmul_limit']:8.3f} {r['epoch_s']:8.1f}")
    pass_epoch = min(r["epoch_s"] / passes(r["rule"]) for r in rows)
    grid = sum(passes(n) for n in RULES) * SEEDS * EPOCHS
    unit = "CPU-hours" if threads == 1 else f"hours of {threads}-thread wall time"
    print(f"grid ({', '.join(RULES)} x {SEEDS} seeds x {EPOCHS} epochs = {grid} pass-epochs) at the fastest "
          f"setting: {grid * pass_epoch / 3600:.1f} {unit} of training steps; at the matmul limit: "
          f"{grid * flops_per_pass * steps_per_epoch / limit / 1e9 / 3600:.1f}")
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rules", default="none,sam")
    ap.add_argument("--quick", action="store_true", help="batch 16 and one round (a smoke test)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    clock = time.process_time if args.threads == 1 else time.perf_counter
    batch_size, rounds = (16, 1) if args.quick else (128, args.rounds)
    samples, limit = measure(args.rules.split(","), batch_size, rounds, clock)
    gen = torch.Generator().manual_seed(0)
    flops_per_pass = step_flops(torch.randn(batch_size, 1, 28, 28, generator=gen), torch.randint(0, 2, (batch_size,)))
    rows = report(samples, limit, flops_per_pass, batch_size, args.threads)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"matmul_gflop_per_s": limit, "flops_per_pass": flops_per_pass, "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
