"""The process group of a run that torchrun started (``torchrun --nproc-per-node N -m sharpreg run RECIPE``,
or ``sharpreg run --nproc N``, which launches through torch's own ``torch.distributed.run``).

:func:`join` reads torchrun's environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``) and joins the process
group: gloo on CPU, NCCL on CUDA. :class:`Replicas` says which process this is. The few collectives the
trainer and the evaluation step need live here; the engine's gradient averaging is ``engine/ddp.py``.
"""

from __future__ import annotations

import contextlib
import datetime
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from .devices import resolve_device
from .errors import SharpregError
from .launch import LAUNCH_ENV, launched

BACKENDS = ("auto", "gloo", "nccl")


@dataclass(frozen=True)
class Replicas:
    """This process among the run's processes (one process: rank 0 of 1)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1
    backend: str | None = None
    """the process group's backend; None without one"""

    @property
    def main(self) -> bool:
        """Rank 0: the process that writes the run folder and shows progress."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        """More than one process shares the run."""
        return self.world > 1


SINGLE = Replicas()


def choose_backend(requested: str, device: torch.device) -> str:
    """``auto``: NCCL for CUDA devices, gloo otherwise; NCCL without CUDA is the user's mistake."""
    if requested not in BACKENDS:
        raise SharpregError(f"train.backend must be one of {', '.join(BACKENDS)}, not {requested!r}")
    if requested == "nccl" and device.type != "cuda":
        raise SharpregError(f"train.backend = 'nccl' needs CUDA GPUs, but this run trains on {device.type}; "
                            "use 'auto' (gloo on CPU) or 'gloo'")
    if requested == "auto":
        return "nccl" if device.type == "cuda" else "gloo"
    return requested


def check_world(world: int, batch_size: int) -> None:
    """Every process needs at least one image of each step's batch."""
    if world > batch_size:
        raise SharpregError(f"{world} processes share a batch of {batch_size} images (train.batch_size): each process "
                            f"needs at least one image per step; raise train.batch_size to at least {world} or start "
                            "fewer processes")


def check_launch(nproc: int, batch_size: int, backend: str, device: torch.device) -> None:
    """What ``--nproc N`` needs, checked before any process starts."""
    if nproc < 1:
        raise SharpregError(f"--nproc must be at least 1, not {nproc}")
    check_world(nproc, batch_size)
    choose_backend(backend, device)
    if device.type == "cuda" and nproc > torch.cuda.device_count():
        raise SharpregError(f"--nproc {nproc} but this machine has {torch.cuda.device_count()} CUDA GPUs: one process "
                            "per GPU; lower --nproc (or set train.device = 'cpu')")


def environment() -> Replicas:
    """The launcher's view of this process (without joining anything)."""
    if not launched():
        return SINGLE
    try:
        rank, world, local = (int(os.environ[k]) for k in LAUNCH_ENV)
        local_world = int(os.environ.get("LOCAL_WORLD_SIZE", world))
    except ValueError:
        raise SharpregError("RANK, WORLD_SIZE and LOCAL_RANK must be integers (as torchrun sets them)") from None
    return Replicas(rank=rank, world=world, local_rank=local, local_world=local_world)


@contextlib.contextmanager
def join(backend: str, device_name: str, timeout_s: float = 1800.0) -> Iterator[Replicas]:
    """Join the launcher's process group for the block (and leave it after, unless it was joined
    before: then it is reused and left alone). Without a launcher: one process, nothing joined.
    ``device_name``: ``train.device`` (a CUDA device is this process's own GPU)."""
    env = environment()
    if not launched():
        yield SINGLE
        return
    if device_name in ("cuda", "auto") and torch.cuda.is_available() and env.local_world > torch.cuda.device_count():
        # said by every process alike (rank 0 reports it), not only by those without a GPU
        raise SharpregError(f"{env.local_world} processes on this machine but {torch.cuda.device_count()} CUDA GPUs: "
                            "one process per GPU; start fewer (--nproc-per-node)")
    device = resolve_device(device_name, env.local_rank)
    name = choose_backend(backend, device)
    if dist.is_initialized():
        yield Replicas(env.rank, env.world, env.local_rank, env.local_world, dist.get_backend())
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(name, timeout=datetime.timedelta(seconds=timeout_s),
                            device_id=device if name == "nccl" else None)
    try:
        yield Replicas(dist.get_rank(), dist.get_world_size(), env.local_rank, env.local_world, name)
    finally:
        dist.destroy_process_group()


# -- collectives ---------------------------------------------------------------------------------------
def _flag_device(rep: Replicas) -> torch.device:
    return torch.device("cuda", torch.cuda.current_device()) if rep.backend == "nccl" else torch.device("cpu")


def broadcast(obj: Any, rep: Replicas) -> Any:
    """Rank 0's ``obj`` on every process."""
    if not rep.active:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0, device=_flag_device(rep))
    return box[0]


def gather(obj: Any, rep: Replicas) -> list[Any]:
    """Every process's ``obj``, in rank order, on every process."""
    if not rep.active:
        return [obj]
    out: list[Any] = [None] * rep.world
    dist.all_gather_object(out, obj)
    return out


def any_rank(flag: bool, rep: Replicas) -> bool:
    """True on every process when ``flag`` is true on any (e.g. a stop request that only one received)."""
    if not rep.active:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=_flag_device(rep))
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)
