"""A short GPU check of the sharpness step (run it where a CUDA GPU is at hand; skips on CPU).

1. bf16 and fp16 SAM steps on a small CNN agree with fp32 (no skipped step, weights close), and an fp16
   overflow (inputs scaled by 1e6) skips the step, leaves the weights untouched and backs off the scale;
   restore after 20 perturbed steps at lr = 0 is bit-exact on the GPU.
2. The step-time ratio of SAM (and the other rules) to ``none`` for a ResNet-50 at 224 px (torchvision,
   random weights, nothing downloaded), in bf16, with CUDA-synchronized timing.

Usage::

    python benchmarks/gpu_step_check.py [--batch 32] [--steps 10] [--json FILE]

Exit code 0 when every check passes (or when no GPU is present: it prints why and skips), 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import torch
from torch import nn

import sharpreg_plugins.rules as first_party
from sharpreg.engine import SharpnessStep

SPECS = {s.name: s for s in first_party.sharpreg_sharpness_rules()}


def engine(model: nn.Module, name: str, precision: str, lr: float = 0.05, **kw: Any) -> SharpnessStep:
    spec = SPECS[name]
    params = spec.params(**kw)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, foreach=True)
    return SharpnessStep(model, opt, spec.factory(params), params, precision=precision, device_type="cuda")


def small_cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.Dropout(0.1),
        nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 2),
    ).cuda()


def precision_checks() -> dict[str, Any]:
    dev = torch.device("cuda")
    g = torch.Generator(device="cpu").manual_seed(0)
    x = torch.randn(32, 3, 64, 64, generator=g).to(dev)
    y = torch.randint(0, 2, (32,), generator=g).to(dev)
    ce = nn.functional.cross_entropy
    out: dict[str, Any] = {}
    ref_model = small_cnn()
    ref = engine(ref_model, "sam", "fp32")
    ref.step([(x, y)], ce)
    for precision in ("bf16", "fp16"):
        m = small_cnn()
        e = engine(m, "sam", precision)
        res = e.step([(x, y)], ce)
        diff = max(float((a - b).abs().max()) for a, b in zip(m.parameters(), ref_model.parameters()))
        out[precision] = {
            "skipped": res.skipped,
            "max_abs_diff_vs_fp32": diff,
            "diagnostics": res.diagnostics,
            "ok": (not res.skipped) and diff < 5e-3,
        }
    m = small_cnn()
    e = engine(m, "sam", "fp16")
    before = [p.detach().clone() for p in m.parameters()]
    scale = e.scaler.get_scale()
    res = e.step([(x * 1e6, y)], ce)
    unchanged = all(torch.equal(a, b) for a, b in zip(before, m.parameters()))
    out["fp16_overflow"] = {
        "skipped": res.skipped,
        "weights_unchanged": unchanged,
        "scale_backed_off": e.scaler.get_scale() == scale / 2,
        "ok": res.skipped and unchanged and e.scaler.get_scale() == scale / 2,
    }
    m = small_cnn()
    e = engine(m, "sam", "bf16", lr=0.0, rho=2.0)
    before = [p.detach().clone() for p in m.parameters()]
    for _ in range(20):
        e.step([(x, y)], ce)
    exact = all(torch.equal(a, b) for a, b in zip(before, m.parameters()))
    out["restore_bit_exact_20_steps"] = {"ok": exact}
    return out


def resnet50_ratio(batch: int, steps: int, rules: list[str]) -> dict[str, Any]:
    import torchvision

    dev = torch.device("cuda")
    g = torch.Generator(device="cpu").manual_seed(0)
    x = torch.randn(batch, 3, 224, 224, generator=g).to(dev)
    y = torch.randint(0, 1000, (batch,), generator=g).to(dev)
    times: dict[str, float] = {}
    for name in rules:
        torch.manual_seed(0)
        model = torchvision.models.resnet50(weights=None).to(dev).to(memory_format=torch.channels_last)
        e = engine(model, name, "bf16", lr=0.01)
        for _ in range(3):
            e.step([(x, y)], nn.functional.cross_entropy)
        torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(steps):
            e.step([(x, y)], nn.functional.cross_entropy)
        torch.cuda.synchronize()
        times[name] = (time.perf_counter() - t) / steps * 1e3
        del model, e
        torch.cuda.empty_cache()
    return {
        name: {"step_ms": round(ms, 2), "step_ratio": round(ms / times["none"], 3)} for name, ms in times.items()
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--rules", default="none,sam,gsam,wsam,crsam")
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args(argv)
    if not torch.cuda.is_available():
        print("gpu_step_check: no CUDA GPU available; skipping (run this script on a machine with a GPU).")
        return 0
    rules = ["none"] + [r for r in args.rules.split(",") if r and r != "none"]
    report: dict[str, Any] = {"device": torch.cuda.get_device_name(), "torch": torch.__version__}
    report["precision"] = precision_checks()
    report["resnet50_224_bf16"] = resnet50_ratio(args.batch, args.steps, rules)
    ok = all(v.get("ok", True) for v in report["precision"].values())
    print(f"device: {report['device']}  torch {report['torch']}")
    for key, v in report["precision"].items():
        print(f"  {key:<28} {'ok' if v['ok'] else 'FAILED'}  {({k: w for k, w in v.items() if k != 'ok'})}")
    print(f"ResNet-50, 224 px, batch {args.batch}, bf16:")
    for name, v in report["resnet50_224_bf16"].items():
        print(f"  {name:<7} {v['step_ms']:>9.1f} ms   ratio {v['step_ratio']:.2f}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2, default=str)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
