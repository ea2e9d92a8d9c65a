"""Where and how a run computes: device, precision and data-loader workers, resolved for this machine.

``auto`` picks what fits; an explicit value the machine cannot serve well (fp16 on a CPU, bf16 on a CPU
without bf16 instructions, more workers than usable cores) is replaced, and the replacement is one note
that the run prints: never a silent slowdown."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from .errors import SharpregError

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


def resolve_device(name: str, local_rank: int | None = None) -> torch.device:
    """``auto`` picks CUDA, then MPS, then CPU; asking for a missing device is a clear error. With
    ``local_rank`` (a process of a multi-process run) a CUDA device is that process's own GPU."""
    device = _resolve(name)
    if device.type != "cuda" or local_rank is None:
        return device
    count = torch.cuda.device_count()
    if local_rank >= count:
        raise SharpregError(f"{local_rank + 1} or more processes on this machine but only {count} CUDA GPU"
                            f"{'s' if count != 1 else ''}: start at most {count} processes per machine")
    return torch.device("cuda", local_rank)


def _resolve(name: str) -> torch.device:
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
    if asked == "bf16" and device.type == "cpu" and not cpu_has_fast_bf16():
        return "fp32", ("train.precision = 'bf16' on a CPU without bf16 instructions (AVX512-BF16 or AMX) runs "
                        "many times slower than fp32; this run uses fp32 (set precision = \"auto\" to silence this)")
    return asked, None


def cpu_has_fast_bf16() -> bool:
    """Whether this CPU has bf16 instructions (AVX512-BF16 or AMX). Without them a bf16 convolution runs
    about 45x slower than in fp32 (measured on an AVX2 EPYC, torch 2.14)."""
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")  # torch.cpu's own capability checks
    return any(getattr(torch.cpu, name, lambda: False)() for name in probes)


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


def place(device: str, precision: str, num_workers: int | str, local_rank: int | None = None) -> Placement:
    """The device, precision and workers a run uses here (see the module's docstring); ``local_rank``: this
    process's GPU among a multi-process run's on this machine."""
    dev = resolve_device(device, local_rank)
    prec, prec_note = resolve_precision(precision, dev)
    workers, workers_note = resolve_workers(num_workers, dev)
    return Placement(dev, prec, workers, tuple(n for n in (prec_note, workers_note) if n))
