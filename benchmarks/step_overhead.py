"""What a sharpness rule costs, measured in one run (no timed asserts anywhere).

For each rule:

* ``step_ratio``: the full step time (forward/backward passes + optimizer) of a small BatchNorm CNN on
  CPU, as a ratio to rule ``none`` measured in the same run;
* ``optimizer_ms``: the optimizer-side time per step (perturb, restore, combine, base SGD step,
  post-step) with ResNet-50-sized parameters (25.6 M); the backward passes are replaced by copying
  stored gradients, whose cost is measured and subtracted;
* ``reference_ms``: the same for pytorch-optimizer's SAM (``foreach=True``), GSAM and WSAM (foreach),
  where they exist;
* times are the process's CPU time (``time.process_time``; with ``--threads 1`` that is the compute
  time, undisturbed by other processes on a shared machine), the fastest of the repetitions;
* ``extra_memory_bytes``: the largest number of bytes the engine and rule hold beyond the weights and
  the current gradient (the backup of w and kept per-pass gradients).

Usage::

    python benchmarks/step_overhead.py [--quick] [--json FILE] [--rules sam,gsam]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

import sharpreg_plugins.rules as first_party
from sharpreg.engine import SharpnessStep

SPECS = {s.name: s for s in first_party.sharpreg_sharpness_rules()}
#: CPU time of this process: on a shared machine, time spent descheduled is not counted
clock = time.process_time
RULES = ["none", "sam", "asam", "gsam", "wsam", "crsam"]


# -- full step on a small BN CNN ---------------------------------------------------------------------
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
        nn.Conv2d(1, width, 3, 1, 1, bias=False),
        nn.BatchNorm2d(width),
        nn.ReLU(),
        Block(width, width, 1),
        Block(width, 2 * width, 2),
        Block(2 * width, 4 * width, 2),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4 * width, 2),
    )


def engine_for(model: nn.Module, name: str) -> SharpnessStep:
    spec = SPECS[name]
    params = spec.params()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, foreach=True)
    return SharpnessStep(model, opt, spec.factory(params), params)


def full_step_times(rules: list[str], batch: int, size: int, steps: int, rounds: int) -> dict[str, float]:
    """ms per step of each rule: the fastest of ``rounds * steps`` timed steps, rules interleaved
    round by round (other processes on a shared machine only ever add time)."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 1, size, size, generator=gen)
    y = torch.randint(0, 2, (batch,), generator=gen)
    engines = {name: engine_for(small_resnet(), name) for name in rules}
    for e in engines.values():
        e.step([(x, y)], nn.functional.cross_entropy)  # warm-up
    samples: dict[str, list[float]] = {name: [] for name in rules}
    for _ in range(rounds):
        for name, e in engines.items():
            for _ in range(steps):
                t = clock()
                e.step([(x, y)], nn.functional.cross_entropy)
                samples[name].append((clock() - t) * 1e3)
    return {name: min(v) for name, v in samples.items()}


# -- optimizer side with ResNet-50-sized parameters ------------------------------------------------
def resnet50_shapes() -> list[torch.Size]:
    import torchvision

    return [p.shape for p in torchvision.models.resnet50(weights=None).parameters()]


class Fake:
    """Parameters of the given shapes and stored gradients that stand in for backward passes.

    ``backward(k)`` writes the stored gradient of pass ``k`` like autograd would (into the existing
    ``.grad`` or a new tensor) and adds its own duration to ``excluded_ms``, which the timing
    subtracts: what remains is the optimizer side only.
    """

    def __init__(self, shapes: list[torch.Size], passes: int = 3) -> None:
        gen = torch.Generator().manual_seed(0)
        self.params = [nn.Parameter(torch.randn(s, generator=gen) * 0.05) for s in shapes]
        self.stored = [[torch.randn(s, generator=gen) * 1e-3 for s in shapes] for _ in range(passes)]
        self.module = nn.ParameterList(self.params)
        self.excluded_ms = 0.0

    def backward(self, k: int) -> None:
        t = clock()
        for p, g in zip(self.params, self.stored[k]):
            if p.grad is None:
                p.grad = g.clone()
            else:
                p.grad.add_(g)
        self.excluded_ms += (clock() - t) * 1e3


def timed(fake: Fake, fn: Callable[[], Any], reps: int) -> float:
    """Smallest optimizer-side time of ``reps`` calls (the minimum is the least disturbed by other
    processes on a shared machine), the stand-in backward passes excluded."""
    fn()  # warm-up (allocations)
    out = []
    for _ in range(reps):
        fake.excluded_ms = 0.0
        t = clock()
        fn()
        out.append((clock() - t) * 1e3 - fake.excluded_ms)
    return min(out)


def ours_optimizer_ms(fake: Fake, name: str, reps: int) -> tuple[float, int, int]:
    spec = SPECS[name]
    params = spec.params()
    opt = torch.optim.SGD(fake.params, lr=0.01, momentum=0.9, foreach=True)
    engine = SharpnessStep(fake.module, opt, spec.factory(params), params)
    loss = torch.zeros(())

    def step() -> None:
        ctx = engine.begin()
        for k in range(ctx.n_passes):
            engine.before_pass(ctx, k)
            fake.backward(k)
            engine.after_pass(ctx, k, loss)
        engine.finish(ctx)

    ms = timed(fake, step, reps)
    for p in fake.params:
        p.grad = None
    return ms, engine.rule.passes(0), engine.peak_extra_bytes


def reference_optimizer_ms(fake: Fake, name: str, reps: int) -> float | None:
    try:
        import pytorch_optimizer as po
    except ImportError:
        return None
    base_kw = {"lr": 0.01, "momentum": 0.9, "foreach": True}

    def closure_for(k: int) -> Callable[[], torch.Tensor]:
        def closure() -> torch.Tensor:
            for p in fake.params:
                p.grad = None
            fake.backward(k)
            return torch.zeros(())

        return closure

    if name == "sam":
        opt = po.SAM(fake.params, torch.optim.SGD, rho=0.05, **base_kw)

        def step() -> None:
            closure_for(0)()
            opt.step(closure_for(1))

    elif name == "wsam":
        opt = po.WSAM(fake.module, fake.params, torch.optim.SGD, rho=0.05, gamma=0.9, **base_kw)
        calls = iter(range(10**9))

        def step() -> None:
            opt.step(lambda: closure_for(next(calls) % 2)())

    elif name == "gsam":
        base = torch.optim.SGD(fake.params, **base_kw)
        sched = torch.optim.lr_scheduler.LambdaLR(base, lambda s: 1.0)
        rho = po.ProportionScheduler(sched, max_lr=0.01, min_lr=0.0, max_value=0.05, min_value=0.05)
        opt = po.GSAM(fake.params, base, fake.module, rho, alpha=0.4, foreach=True)
        calls = iter(range(10**9))

        def step() -> None:
            def get_grad() -> tuple[None, torch.Tensor]:
                return None, closure_for(next(calls) % 2)()

            opt.step(get_grad)

    else:
        return None
    ms = timed(fake, step, reps)
    for p in fake.params:
        p.grad = None
    return ms


# -- report ------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller images, fewer repetitions")
    ap.add_argument("--json", metavar="FILE", help="write the results as JSON")
    ap.add_argument("--rules", default=",".join(RULES), help="comma-separated rules (none is always measured)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    rules = ["none"] + [r for r in args.rules.split(",") if r and r != "none"]
    unknown = [r for r in rules if r not in SPECS]
    if unknown:
        print(f"unknown rule(s): {', '.join(unknown)}; known: {', '.join(SPECS)}", file=sys.stderr)
        return 2
    batch, size, steps, rounds, reps = (16, 32, 3, 3, 3) if args.quick else (32, 64, 5, 5, 7)

    full = full_step_times(rules, batch, size, steps, rounds)
    fake = Fake(resnet50_shapes())
    n_params = sum(p.numel() for p in fake.params)
    results: dict[str, dict[str, Any]] = {}
    for name in rules:
        raw, passes, extra = ours_optimizer_ms(fake, name, reps)
        ref = reference_optimizer_ms(fake, name, reps)
        results[name] = {
            "passes": passes,
            "step_ms": round(full[name], 3),
            "step_ratio": round(full[name] / full["none"], 3),
            "optimizer_ms": round(raw, 2),
            "reference_ms": None if ref is None else round(ref, 2),
            "extra_memory_bytes": extra,
        }

    weight_bytes = n_params * 4
    print(
        f"sharpness step overhead — torch {torch.__version__}, {torch.get_num_threads()} threads; "
        f"full step: small BN ResNet, batch {batch}, {size}x{size}; optimizer side: {n_params / 1e6:.1f} M "
        f"parameters (ResNet-50), stand-in backward excluded; process CPU time, fastest of the repetitions"
    )
    head = f"{'rule':<7}{'passes':>7}{'step ms':>10}{'ratio':>8}{'opt ms':>9}{'ref ms':>9}{'opt/ref':>9}{'extra mem':>12}"
    print(head)
    print("-" * len(head))
    for name, r in results.items():
        ref = r["reference_ms"]
        rel = f"{r['optimizer_ms'] / ref:.2f}" if ref else "—"
        print(
            f"{name:<7}{r['passes']:>7}{r['step_ms']:>10.1f}{r['step_ratio']:>8.2f}{r['optimizer_ms']:>9.1f}"
            f"{(f'{ref:.1f}' if ref is not None else '—'):>9}{rel:>9}"
            f"{r['extra_memory_bytes'] / weight_bytes:>9.0f} ×w"
        )
    if args.json:
        payload = {
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "quick": args.quick,
            "parameters": n_params,
            "rules": results,
        }
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(payload, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
