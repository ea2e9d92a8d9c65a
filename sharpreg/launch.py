"""Starting a run on several processes through torch's own launcher, ``torch.distributed.run`` (torchrun):
``sharpreg run --nproc N``, the resume of such a run, and the runs of a sweep on one or more nodes.

Every process runs ``python -m sharpreg ARGS``; the processes find each other through torchrun's
rendezvous and join the process group in :mod:`sharpreg.distributed`. There is no launcher of our own.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import SharpregError

THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
#: what torchrun sets in each process it starts
LAUNCH_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK")


def launched() -> bool:
    """Started by torchrun (or another launcher that sets its environment)."""
    return all(k in os.environ for k in LAUNCH_ENV)


def launch_rank() -> int:
    """This process's rank from the launcher's environment (0 without a launcher)."""
    try:
        return int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0


def torchrun_args(nproc: int, program: Sequence[str], *, nnodes: int = 1, node_rank: int = 0,
                  master_addr: str | None = None, master_port: int | None = None) -> list[str]:
    """torchrun's arguments to start ``program`` (``["-m", "sharpreg", ARGS...]``, or a script and its
    arguments) on ``nproc`` processes per node. One node: a standalone rendezvous on a free port (runs side
    by side never collide); several: a static rendezvous at ``master_addr:master_port``, this node being
    ``node_rank``."""
    if nproc < 1 or nnodes < 1:
        raise SharpregError(f"processes per node and nodes must be at least 1 (got {nproc} and {nnodes})")
    if nnodes == 1:
        head = ["--standalone", "--nnodes=1"]
    else:
        if not master_addr or not master_port:
            raise SharpregError("a run on several nodes needs the address and port of its first node")
        if not 0 <= node_rank < nnodes:
            raise SharpregError(f"node rank {node_rank} is outside 0..{nnodes - 1}")
        head = [f"--nnodes={nnodes}", f"--node-rank={node_rank}", f"--master-addr={master_addr}",
                f"--master-port={master_port}"]
    return [*head, f"--nproc-per-node={nproc}", *program]


def thread_env(nproc: int, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of ``nproc`` processes on this machine: unless set, each gets an equal share of
    the CPU cores as torch threads (torchrun would otherwise give each one thread, with a warning)."""
    out = dict(os.environ if env is None else env)
    share = str(max(1, (os.cpu_count() or 1) // max(1, nproc)))
    for var in THREAD_VARS:
        out.setdefault(var, share)
    return out


#: exit codes whose reason rank 0 has already printed (a user's mistake, an interruption)
REPORTED = (2, 130)


def exit_code(failures: Mapping[int, Any]) -> tuple[int, str | None]:
    """The exit code a launch reports (the failure of the lowest rank; a process killed by a signal
    reports 128 + the signal, as a shell does) and a line saying what happened, unless rank 0 has."""
    if not failures:
        return 1, "the processes failed without an exit code"
    rank = min(failures)
    code = int(failures[rank].exitcode)
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
        return 128 - code, f"process {rank} was killed by {name}; the others were stopped"
    return (code or 1), (None if code in REPORTED else f"process {rank} exited with code {code}; the others were stopped")


def launch(nproc: int, args: Sequence[str]) -> int:
    """Run ``sharpreg ARGS`` on ``nproc`` processes of this machine through ``torch.distributed.run``, in
    this process; returns the run's exit code (0, 2 for a user's mistake, 130 after Ctrl-C, ...)."""
    from torch.distributed import run as torchrun
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    os.environ.update({k: v for k, v in thread_env(nproc).items() if k in THREAD_VARS})
    # the launcher's own log lines (rendezvous, per-process failure reports) repeat what rank 0 says
    logging.getLogger("torch.distributed.elastic").setLevel(logging.CRITICAL)
    logging.getLogger("torch.distributed.run").setLevel(logging.CRITICAL)
    try:
        torchrun.run(torchrun.parse_args(torchrun_args(nproc, ["-m", "sharpreg", *args])))
    except ChildFailedError as exc:
        code, line = exit_code(exc.failures)
        if line:
            print(f"error: {line}", file=sys.stderr)
        return code
    except SignalException as exc:
        return 128 + int(exc.sigval)
    except KeyboardInterrupt:
        return 128 + int(signal.SIGINT)
    return 0
