"""What a sharpness rule costs, measured in one run with the rules interleaved (no timed asserts anywhere).

* Full step: a small BatchNorm CNN on CPU (batch 32, 64x64). Each round runs ``steps`` steps of every
  rule in turn (none, sam, ..., none, sam, ...); a rule's ratio is its mean step time over none's in
  the same round. Reported: the median of the per-round ratios and their spread (min-max), and the
  passes per step the rules actually ran (LookSAM k = 5, RST p = 0.5). pytorch-optimizer's LookSAM,
  where installed, runs the same way (``reference_step_ratio``).
* Optimizer side (``optimizer_side.py``): ResNet-50-sized parameters (25.6 M), the backward passes
  replaced by copying stored gradients (excluded), the engine's optional cos(g, g_p) off (it is not the
  rule's math; its cost is the ``cos copy`` line; the full-step rounds keep it on, as runs do). Per rule: ms per step, the minimum bytes its math
  must read and write per step, and the fraction of this machine's copy bandwidth (measured in the
  same rounds) that achieves; pytorch-optimizer's SAM, adaptive SAM, GSAM, WSAM and LookSAM (foreach;
  their wrappers hand the base SGD their foreach flag, so theirs is foreach and ours fused), each right
  after the rule, and ours/theirs per round.
* Times are the process's CPU time (``time.process_time``): run with ``--threads 1`` so that time spent
  descheduled on a shared machine is not counted. The load average at the start and end is reported.
* ``extra_memory_bytes``: the most the engine and the rule held beyond the weights and the current
  gradient (the backup of w, kept per-pass gradients, LookSAM's stored component); logging the cosine
  adds the bfloat16 copy of g for rules that release it (the ``cos copy`` line's memory).
* ``cos copy``: what logging an honest cos(g, g_p) costs a rule that releases g (SAM, ASAM, SAM-ON): the
  engine's bfloat16 copy of g and its dot product with g_p, in float32 weight copies (per round).

Usage::

    python benchmarks/step_overhead.py --threads 1 [--quick] [--rounds N] [--json FILE] [--rules sam,looksam]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from typing import Any

import torch
from torch import nn

from optimizer_side import RULE_SPECS, SETTINGS, SGD, clock, engine, measure_rounds

RULES = ["none", "sam", "asam", "sam_on", "gsam", "wsam", "crsam", "looksam", "rst"]
#: the issue's targets: step time / none's, and optimizer side / bandwidth floor
TARGETS = {"looksam": 1.3, "rst": 1.55, "sam": 2.05, "asam": 2.05, "gsam": 2.05, "wsam": 2.05}
BANDWIDTH_TARGET = 0.7


class Block(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.skip = (
            nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
            if stride != 1 or c_in != c_out
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(h)) + self.skip(x))


def small_resnet(width: int = 16) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
        Block(width, width, 1), Block(width, 2 * width, 2), Block(2 * width, 4 * width, 2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4 * width, 2),
    )


class FullStep:
    """Steps of one rule on its own copy of the small CNN; ``run`` returns (seconds, passes)."""

    def __init__(self, name: str, batch: tuple[torch.Tensor, torch.Tensor]) -> None:
        model = small_resnet()
        opt = SGD.factory([{"params": list(model.parameters())}], SGD.params(lr=0.01, momentum=0.9))
        if name == "pytorch_optimizer.looksam":
            import pytorch_optimizer as po

            opt = po.LookSAM(model.parameters(), torch.optim.SGD, rho=0.05, k=5, alpha=0.7, foreach=True,
                             lr=0.01, momentum=0.9)
            self.step = self._reference_step
        else:
            self.engine = engine(model, opt, name, log_cos=True)  # as a run logs it
            self.step = self._engine_step
        self.model, self.opt, self.batch, self.forwards = model, opt, batch, 0

    def _engine_step(self) -> int:
        return self.engine.step([self.batch], nn.functional.cross_entropy).passes

    def _reference_step(self) -> int:
        x, y = self.batch
        before = self.forwards

        def closure() -> torch.Tensor:
            self.opt.zero_grad()
            self.forwards += 1
            loss = nn.functional.cross_entropy(self.model(x), y)
            loss.backward()
            return loss

        closure()
        self.opt.step(closure)
        return self.forwards - before

    def run(self, steps: int) -> tuple[float, list[int]]:
        t = clock()
        passes = [self.step() for _ in range(steps)]
        return clock() - t, passes


def full_step_rounds(names: list[str], batch: int, size: int, steps: int, rounds: int) -> dict[str, Any]:
    gen = torch.Generator().manual_seed(0)
    data = (torch.randn(batch, 1, size, size, generator=gen), torch.randint(0, 2, (batch,), generator=gen))
    runners = {n: FullStep(n, data) for n in names}
    for r in runners.values():
        r.run(steps)  # warm-up: a whole LookSAM cycle, so every round starts at a SAM step
    samples: dict[str, list[tuple[float, list[int]]]] = {n: [] for n in names}
    for i in range(rounds):
        print(f"  full step, round {i + 1}/{rounds}", file=sys.stderr)
        for n, r in runners.items():
            samples[n].append(r.run(steps))
    return samples


def spread(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 4), "min": round(min(values), 4), "max": round(max(values), 4)}


def summarize(full: dict[str, Any], opt_side: dict[str, Any], steps: int, opt_steps: int) -> dict[str, dict[str, Any]]:
    none = [s for s, _ in full["none"]]
    bandwidth = opt_side["bandwidth"]
    out: dict[str, dict[str, Any]] = {}
    for name, rounds in full.items():
        passes = [p for _, ps in rounds for p in ps]
        row: dict[str, Any] = {
            "passes_per_step": round(sum(passes) / len(passes), 4),
            "step_ms": round(statistics.median(s for s, _ in rounds) / steps * 1e3, 3),
            "step_ratio": spread([s / n for (s, _), n in zip(rounds, none)]),
            # time per pass over none's, per round: the engine's overhead beyond the passes (1 = none);
            # free of the round-to-round variation of RST's draws
            "per_pass_ratio": spread([s / sum(ps) / (n / steps) for (s, ps), n in zip(rounds, none)]),
        }
        ours = opt_side["ours"].get(name)
        if ours:
            fractions = [t.floor_bytes / t.seconds / bw for t, bw in zip(ours, bandwidth)]
            row |= {
                "optimizer_ms": round(statistics.median(t.seconds for t in ours) / opt_steps * 1e3, 2),
                "floor_bytes_per_step": round(sum(t.floor_bytes for t in ours) / (opt_steps * len(ours))),
                "bandwidth_fraction": spread(fractions),
                "extra_memory_bytes": opt_side["extra_memory_bytes"][name],
            }
            ref = opt_side["reference"].get(name)
            if ref:
                row["reference_ms"] = round(statistics.median(ref) / opt_steps * 1e3, 2)
                row["ours_over_reference"] = spread([t.seconds / r for t, r in zip(ours, ref)])
        out[name] = row
    return out


def _range(d: dict[str, float] | None) -> str:
    return f"[{d['min']:.2f}-{d['max']:.2f}]" if d else ""


def print_table(rows: dict[str, dict[str, Any]], parameter_bytes: int) -> None:
    head = (f"{'rule':<26}{'passes':>7}{'step ms':>9}{'ratio':>7}{'[min-max]':>13}{'/pass':>7}{'opt ms':>8}{'floor MB':>9}"
            f"{'bw frac':>8}{'[min-max]':>12}{'ref ms':>8}{'ours/ref':>9}{'extra mem':>11}")
    print(head)
    print("-" * len(head))
    for name, r in rows.items():
        ratio, bw, rel = r["step_ratio"], r.get("bandwidth_fraction"), r.get("ours_over_reference")
        line = (f"{name:<26}{r['passes_per_step']:>7.2f}{r['step_ms']:>9.1f}{ratio['median']:>7.2f}{_range(ratio):>13}"
                f"{r['per_pass_ratio']['median']:>7.2f}")
        if bw:
            line += (f"{r['optimizer_ms']:>8.1f}{r['floor_bytes_per_step'] / 1e6:>9.0f}{bw['median']:>8.2f}"
                     f"{_range(bw):>12}")
            line += f"{r['reference_ms']:>8.1f}{rel['median']:>9.2f}" if rel else f"{'—':>8}{'—':>9}"
            line += f"{r['extra_memory_bytes'] / parameter_bytes:>8.1f} ×w"
        print(line)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller images, fewer rounds")
    ap.add_argument("--json", metavar="FILE", help="write the results as JSON")
    ap.add_argument("--rules", default=",".join(RULES), help="comma-separated rules (none is always measured)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's; use 1)")
    ap.add_argument("--rounds", type=int, default=None, help="full-step rounds (default 9, quick 3)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    rules = ["none"] + [r for r in args.rules.split(",") if r and r != "none"]
    unknown = [r for r in rules if r not in RULE_SPECS]
    if unknown:
        print(f"unknown rule(s): {', '.join(unknown)}; known: {', '.join(RULE_SPECS)}", file=sys.stderr)
        return 2
    batch, size, steps, rounds, opt_steps, opt_rounds = (16, 32, 5, 3, 5, 2) if args.quick else (32, 64, 10, 9, 10, 5)
    rounds = args.rounds or rounds
    load_before = os.getloadavg()
    full_names = list(rules)
    if "looksam" in rules:
        try:
            import pytorch_optimizer  # noqa: F401

            full_names.append("pytorch_optimizer.looksam")
        except ImportError:
            pass
    full = full_step_rounds(full_names, batch, size, steps, rounds)
    opt_side = measure_rounds(rules, opt_rounds, opt_steps, lambda s: print(f"  {s}", file=sys.stderr))
    load_after = os.getloadavg()
    rows = summarize(full, opt_side, steps, opt_steps)
    bw = spread([b / 1e9 for b in opt_side["bandwidth"]])
    print(
        f"sharpness step overhead — torch {torch.__version__}, {torch.get_num_threads()} thread(s), load average "
        f"{load_before[0]:.2f} -> {load_after[0]:.2f} on {os.cpu_count()} CPUs\nfull step: small BN ResNet, batch {batch}, "
        f"{size}x{size}, {rounds} rounds x {steps} steps, ratio to none per round (median [min-max]; /pass: per "
        f"pass); optimizer "
        f"side: {opt_side['parameters'] / 1e6:.1f} M parameters, {opt_rounds} rounds x {opt_steps} steps, copy "
        f"bandwidth {bw['median']:.1f} GB/s [{bw['min']:.1f}-{bw['max']:.1f}] (read + write); bw frac = minimum "
        f"bytes / time / copy bandwidth (target >= {BANDWIDTH_TARGET})"
    )
    print_table(rows, opt_side["parameter_bytes"])
    cos = spread(opt_side["cos_copy"])
    print(f"cos(g, g_p) for a rule that releases g (bfloat16 copy of g, its dot with g_p): {cos['median']:.2f} float32 "
          f"weight copies per step [{cos['min']:.2f}-{cos['max']:.2f}]; memory 0.5 ×w")
    if args.json:
        payload = {
            "torch": torch.__version__, "threads": torch.get_num_threads(), "quick": args.quick,
            "load_average": {"start": load_before, "end": load_after}, "cpus": os.cpu_count(),
            "full_step": {"batch": batch, "size": size, "rounds": rounds, "steps_per_round": steps},
            "optimizer_side": {"parameters": opt_side["parameters"], "rounds": opt_rounds, "steps_per_round": opt_steps},
            "copy_bandwidth_gbs": bw, "cos_copy_in_weight_copies": cos, "settings": SETTINGS,
            "targets": {"step_ratio": TARGETS, "bandwidth_fraction": BANDWIDTH_TARGET}, "rules": rows,
        }
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(payload, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
