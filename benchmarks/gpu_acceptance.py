"""The GPU acceptance check, in one script that finishes in under 8 minutes on one H100/H200-class GPU:

1. precision: bf16 and fp16 SAM steps agree with fp32 on a small CNN; an fp16 overflow (inputs x 1e6) skips
   the step, leaves the weights untouched and halves the loss scale; restore is bit-exact after 20
   perturbed bf16 steps at lr = 0;
2. speed: SAM's throughput as a fraction of ``none``'s at ResNet-50, 224 px, bf16, channels_last (goal
   >= 0.48), measured interleaved in rounds (median of the per-round ratios); ``none``'s images/s is the
   data pipeline's demand (``benchmarks/data_pipeline.py --gpu-json``);
3. data: the batch augmented on the GPU equals the per-item augmentation of the same draws;
4. every installed rule trains one short epoch on BUSI at 224 px (the phantom at 224 px when
   ``$SHARPREG_DATA/busi`` is absent), through the trainer, bf16;
5. a one-GPU run started by torchrun (``torchrun --nproc-per-node 1 -m sharpreg run``) finishes.

    python benchmarks/gpu_acceptance.py [--json FILE] [--steps 10] [--rounds 3]
    python benchmarks/gpu_acceptance.py --device cpu --smoke     # the same logic, small, on a CPU (tests)

Exit code 0 when every check passes (goals are reported, not enforced), 1 otherwise; without a GPU (and
without ``--device cpu``) it says so and exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

import sharpreg_plugins.rules as first_party
from sharpreg.engine import SharpnessStep

SPECS = {s.name: s for s in first_party.sharpreg_sharpness_rules()}
SAM_GOAL = 0.48


def engine(model: nn.Module, name: str, precision: str, device: torch.device, lr: float = 0.05, **kw: Any) -> SharpnessStep:
    spec = SPECS[name]
    params = spec.params(**kw)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, foreach=True)
    return SharpnessStep(model, opt, spec.factory(params), params, precision=precision, device_type=device.type)


def small_cnn(device: torch.device) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.Dropout(0.1),
        nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 2),
    ).to(device)


def precision_checks(device: torch.device, batch: int = 32, size: int = 64) -> dict[str, Any]:
    g = torch.Generator(device="cpu").manual_seed(0)
    x = torch.randn(batch, 3, size, size, generator=g).to(device)
    y = torch.randint(0, 2, (batch,), generator=g).to(device)
    ce = nn.functional.cross_entropy
    out: dict[str, Any] = {}
    ref_model = small_cnn(device)
    engine(ref_model, "sam", "fp32", device).step([(x, y)], ce)
    for precision in ("bf16", "fp16"):
        m = small_cnn(device)
        res = engine(m, "sam", precision, device).step([(x, y)], ce)
        diff = max(float((a - b).detach().abs().max()) for a, b in zip(m.parameters(), ref_model.parameters()))
        out[precision] = {"skipped": res.skipped, "max_abs_diff_vs_fp32": diff, "ok": (not res.skipped) and diff < 5e-3}
    m = small_cnn(device)
    e = engine(m, "sam", "fp16", device)
    before = [p.detach().clone() for p in m.parameters()]
    scale = e.scaler.get_scale()
    res = e.step([(x * 1e6, y)], ce)
    unchanged = all(torch.equal(a, b) for a, b in zip(before, m.parameters()))
    halved = e.scaler.get_scale() == scale / 2
    out["fp16_overflow"] = {"skipped": res.skipped, "weights_unchanged": unchanged, "scale_backed_off": halved,
                            "ok": res.skipped and unchanged and halved}
    m = small_cnn(device)
    e = engine(m, "sam", "bf16", device, lr=0.0, rho=2.0)
    before = [p.detach().clone() for p in m.parameters()]
    for _ in range(20):
        e.step([(x, y)], ce)
    out["restore_bit_exact_20_steps"] = {"ok": all(torch.equal(a, b) for a, b in zip(before, m.parameters()))}
    return out


def step_ratio(device: torch.device, arch: str, size: int, batch: int, steps: int, rounds: int,
               rules: list[str]) -> dict[str, Any]:
    """Each rule's step time and images/s, measured interleaved in rounds (none, sam, ..., none, sam, ...);
    each rule's throughput as a fraction of none's: the median of the per-round fractions, with min and max."""
    import timm

    g = torch.Generator(device="cpu").manual_seed(0)
    x = torch.randn(batch, 3, size, size, generator=g).to(device).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 1000, (batch,), generator=g).to(device)
    precision = "bf16" if device.type == "cuda" else "fp32"
    engines = {}
    for name in rules:
        torch.manual_seed(0)
        model = timm.create_model(arch, num_classes=1000).to(device).to(memory_format=torch.channels_last)
        engines[name] = engine(model, name, precision, device, lr=0.01)
        for _ in range(2):  # warm-up (cuDNN's algorithm search)
            engines[name].step([(x, y)], nn.functional.cross_entropy)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    times: dict[str, list[float]] = {name: [] for name in rules}
    for _ in range(rounds):
        for name in rules:
            sync()
            t = time.perf_counter()
            for _ in range(steps):
                engines[name].step([(x, y)], nn.functional.cross_entropy)
            sync()
            times[name].append((time.perf_counter() - t) / steps)
    out: dict[str, Any] = {}
    for name in rules:
        fractions = [n / r for n, r in zip(times["none"], times[name])]
        out[name] = {"step_ms": round(statistics.median(times[name]) * 1e3, 2),
                     "images_per_s": round(batch / statistics.median(times[name]), 1),
                     "throughput_vs_none": round(statistics.median(fractions), 3),
                     "range": [round(min(fractions), 3), round(max(fractions), 3)],
                     "passes_per_step": engines[name].step([(x, y)], nn.functional.cross_entropy).passes}
    return out


def augmentation_check(device: torch.device, n: int = 64, size: int = 224) -> dict[str, Any]:
    """The same draws applied per item on the CPU and to the batch on ``device``."""
    import numpy as np

    from sharpreg.data.augment import apply, draw
    from sharpreg.specs import AugmentParams

    p = AugmentParams(flip_vertical=0.5, rotate_degrees=30, zoom=0.2, intensity=0.2, probability=0.8)
    rs = np.random.RandomState(0)
    draws = torch.from_numpy(np.stack([draw(p, rs) for _ in range(n)]))
    x = torch.rand(n, 1, size, size, generator=torch.Generator().manual_seed(0))
    per_item = torch.cat([apply(x[i : i + 1], draws[i : i + 1]) for i in range(n)])
    batched = apply(x.to(device), draws).cpu()
    diff = float((per_item - batched).abs().max())
    return {"max_abs_diff": diff, "ok": diff < 1e-5}


RECIPE = """
schema_version = 1
[meta]
name = "acceptance-{rule}"
[data]
name = "{data}"
classes = ["benign", "malignant"]
image_size = {size}
{data_extra}
[model]
name = "timm"
arch = "{arch}"
[optimizer]
name = "adam"
lr = 1e-4
[sharpness]
name = "{rule}"
[train]
epochs = 1
batch_size = {batch}
max_steps_per_epoch = {steps}
precision = "{precision}"
device = "{device}"
deterministic = false
[eval]
bootstrap = 50
"""


def write_recipe(folder: Path, rule: str, smoke: bool, device: torch.device) -> Path:
    busi = bool(os.environ.get("SHARPREG_DATA")) and (Path(os.environ["SHARPREG_DATA"]) / "busi").is_dir()
    data = "busi" if busi and not smoke else "phantom"
    extra = 'cross_class_duplicates = "drop"' if data == "busi" else "per_class = {}\nnative_size = {}".format(
        8 if smoke else 64, 32 if smoke else 224)
    text = RECIPE.format(rule=rule, data=data, size=32 if smoke else 224, data_extra=extra,
                         arch="test_resnet" if smoke else "resnet50", batch=4 if smoke else 32,
                         steps=2 if smoke else 8, precision="bf16" if device.type == "cuda" else "fp32",
                         device=device.type)
    path = folder / f"{rule}.toml"
    path.write_text(text)
    return path


def every_rule(folder: Path, smoke: bool, device: torch.device) -> dict[str, Any]:
    """One short epoch of each installed rule through the trainer."""
    from rich.console import Console

    from sharpreg.recipe import load_recipe
    from sharpreg.registry import default_registry
    from sharpreg.runs import RunFolder
    from sharpreg.training import Trainer

    out: dict[str, Any] = {}
    for rule in default_registry().names("rule"):
        t = time.perf_counter()
        recipe = load_recipe(write_recipe(folder, rule, smoke, device))
        summary = Trainer(recipe, RunFolder.create(recipe, out=folder / rule), console=Console(quiet=True),
                          progress=False).fit()
        loss = (summary.train_final or {}).get("loss")
        out[rule] = {"seconds": round(time.perf_counter() - t, 1), "passes_per_step": summary.passes_per_step,
                     "skipped_steps": summary.skipped_steps, "train_loss": loss, "data": recipe.data.name,
                     "ok": loss is not None and summary.skipped_steps < summary.steps}
    return out


def torchrun_run(folder: Path, smoke: bool, device: torch.device) -> dict[str, Any]:
    """``torchrun --nproc-per-node 1 -m sharpreg run RECIPE`` in a subprocess."""
    recipe = write_recipe(folder, "sam", smoke, device)
    out = folder / "torchrun-sam"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=1", "-m", "sharpreg",
           "run", str(recipe), "--out", str(out), "--no-progress"]
    t = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    env = json.loads((out / "environment.json").read_text()) if (out / "environment.json").is_file() else {}
    ok = done.returncode == 0 and (out / "summary.json").is_file() and env.get("world_size") == 1
    return {"returncode": done.returncode, "seconds": round(time.perf_counter() - t, 1), "backend": env.get("backend"),
            "ok": ok, **({} if ok else {"output": done.stdout[-1500:] + done.stderr[-1500:]})}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    ap.add_argument("--smoke", action="store_true", help="small models and images (the suite runs this on a CPU)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("gpu_acceptance: no CUDA GPU available; skipping (run it on a machine with a GPU, or --device cpu).")
        return 0
    device = torch.device(args.device)
    t0 = time.perf_counter()
    name = torch.cuda.get_device_name() if device.type == "cuda" else "cpu"
    report: dict[str, Any] = {"device": name, "torch": torch.__version__, "smoke": args.smoke}
    report["precision"] = precision_checks(device, *((8, 16) if args.smoke else (32, 64)))
    arch, size, batch = ("test_resnet", 32, 4) if args.smoke else ("resnet50", 224, args.batch)
    steps, rounds = (1, 2) if args.smoke else (args.steps, args.rounds)
    report["resnet50_224_bf16"] = step_ratio(device, arch, size, batch, steps, rounds, ["none", "sam"])
    report["augmentation_on_device"] = augmentation_check(device, *((16, 64) if args.smoke else (64, 224)))
    with tempfile.TemporaryDirectory() as tmp:
        report["every_rule_one_epoch"] = every_rule(Path(tmp), args.smoke, device)
        report["torchrun_one_process"] = torchrun_run(Path(tmp), args.smoke, device)
    report["seconds"] = round(time.perf_counter() - t0, 1)
    checks = {**report["precision"], "augmentation_on_device": report["augmentation_on_device"],
              **{f"rule {k}": v for k, v in report["every_rule_one_epoch"].items()},
              "torchrun_one_process": report["torchrun_one_process"]}
    ok = all(v["ok"] for v in checks.values())
    sam = report["resnet50_224_bf16"]["sam"]["throughput_vs_none"]
    report["goal_sam_throughput"] = {"value": sam, "goal": SAM_GOAL, "met": sam >= SAM_GOAL}
    print(f"device: {name}  torch {torch.__version__}{'  (smoke)' if args.smoke else ''}  {report['seconds']:.0f} s")
    for key, v in checks.items():
        print(f"  {key:<30} {'ok' if v['ok'] else 'FAILED'}  {({k: w for k, w in v.items() if k not in ('ok', 'output')})}")
    print(f"{arch}, {size} px, batch {batch}, {'bf16' if device.type == 'cuda' else 'fp32'}, channels_last:")
    for rule, v in report["resnet50_224_bf16"].items():
        print(f"  {rule:<6} {v['step_ms']:>9.1f} ms  {v['images_per_s']:>8.0f} img/s  throughput vs none "
              f"{v['throughput_vs_none']:.3f} ({v['range'][0]:.3f}-{v['range'][1]:.3f})")
    print(f"  SAM goal >= {SAM_GOAL}: {'met' if report['goal_sam_throughput']['met'] else 'NOT met'}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=str))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
