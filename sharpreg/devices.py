"""Where and how a run computes: device, precision and data-loader workers, resolved for this machine.

``auto`` picks what fits; an explicit value the machine cannot serve well (bf16 or fp16 on a CPU without
fast half-precision units, more workers than usable cores) is replaced, and the replacement is one note
that the run prints: never a silent slowdown."""

from __future__ import annotations

import functools
import os
import time
from dataclasses import dataclass

import torch

from .errors import SharpregError

#: half precision slower than this many times fp32 on a CPU counts as "not done well"
SLOW_HALF_FACTOR = 2.0
MAX_AUTO_WORKERS = 8


@dataclass(frozen=True)
class Placement:
    """What a run uses on this machine, and one note for each recipe value it could not honour."""

    device: torch.device
    precision: str
    num_workers: int
    notes: tuple[str, ...] = ()

    def record(self) -> dict[str, object]:
        return {"device": str(self.device), "precision": self.precision, "num_workers": self.num_workers,
                "torch_threads": torch.get_num_threads(), "cores": usable_cores()}


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask, as torch's DataLoader counts them)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA, then MPS, then CPU; asking for a missing device is a clear error."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise SharpregError("train.device = 'cuda' but no CUDA GPU is available; use 'auto' or 'cpu'")
    if name == "mps" and not _mps_available():
        raise SharpregError("train.device = 'mps' but MPS is not available; use 'auto' or 'cpu'")
    return torch.device(name)


def _mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


def resolve_precision(asked: str, device: torch.device) -> tuple[str, str | None]:
    """(precision to use, a note when it differs from an explicit ``asked``). ``auto``: bf16 on a CUDA
    GPU that supports it, else fp32."""
    if asked == "auto":
        return ("bf16" if device.type == "cuda" and torch.cuda.is_bf16_supported() else "fp32"), None
    if asked == "fp16" and device.type != "cuda":
        return "fp32", (f"train.precision = 'fp16' needs a CUDA GPU (its loss scaling); this run uses fp32 on "
                        f"{device.type}")
    if asked == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        return "fp32", "train.precision = 'bf16': this GPU has no native bf16; this run uses fp32"
    if asked == "bf16" and device.type == "cpu":
        ratio = cpu_bf16_slowdown()
        if ratio > SLOW_HALF_FACTOR:
            return "fp32", (f"train.precision = 'bf16' is {ratio:.0f}x slower than fp32 on this CPU (no bf16 "
                            "units); this run uses fp32 (set precision = \"auto\" to silence this)")
    return asked, None


@functools.cache
def cpu_bf16_slowdown() -> float:
    """How many times slower a small bf16 convolution is than the same in fp32 on this CPU (measured
    once per process, best of three; about 100x on a CPU without bf16 units, below 1 with AMX)."""
    x, w = torch.randn(2, 16, 32, 32), torch.randn(16, 16, 3, 3)

    def best(a: torch.Tensor, b: torch.Tensor) -> float:
        torch.nn.functional.conv2d(a, b, padding=1)
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            torch.nn.functional.conv2d(a, b, padding=1)
            times.append(time.perf_counter() - t0)
        return min(times)

    with torch.no_grad():
        return best(x.bfloat16(), w.bfloat16()) / max(best(x, w), 1e-9)


def resolve_workers(asked: int | str, device: torch.device) -> tuple[int, str | None]:
    """(data-loader workers to use, a note when an explicit ``asked`` is lowered). ``auto``: none on a CPU
    (the training itself needs every core), else one per usable core but one, at most 8 per process."""
    cores = max(1, usable_cores() // max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1"))))
    if asked == "auto":
        return (0 if device.type == "cpu" else min(MAX_AUTO_WORKERS, cores - 1)), None
    n = int(asked)
    if n > cores:
        return cores, (f"train.num_workers = {n} but this machine has {cores} usable CPU core"
                       f"{'s' if cores != 1 else ''}; this run uses {cores} (set num_workers = \"auto\" to silence "
                       "this)")
    return n, None


def place(device: str, precision: str, num_workers: int | str) -> Placement:
    """The device, precision and workers a run uses here (see the module's docstring)."""
    dev = resolve_device(device)
    prec, prec_note = resolve_precision(precision, dev)
    workers, workers_note = resolve_workers(num_workers, dev)
    return Placement(dev, prec, workers, tuple(n for n in (prec_note, workers_note) if n))
