"""A sweep's runs on a cluster: each run's resources (the grid's ``[slurm]`` table, overridden by
``sharpreg sweep`` options), the submitit parameters that ask Slurm for them, and where a run's processes
start: torchrun on every node of the run, the first node hosting the rendezvous.
"""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..errors import SharpregError

#: Slurm parameters the ``[slurm]`` fields set; ``options`` may not set them again
OWN = {"partition": "partition", "time": "timeout_min", "nodes": "nodes", "gpus_per_node": "gpus_per_node",
       "cpus_per_task": "cpus_per_task", "mem": "mem_gb", "job_name": "(the sweep's name)",
       "array_parallelism": "array_parallelism", "account": "account", "constraint": "constraint",
       "ntasks_per_node": "(one task per node: torchrun starts the processes)"}
Option = str | int | float | bool


class SlurmConfig(BaseModel):
    """Resources of each run's Slurm job (submitit ``update_parameters``)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    partition: str | None = Field(None, description="Slurm partition.")
    timeout_min: int = Field(240, ge=1, description="Time limit of one run, in minutes.")
    nodes: int = Field(1, ge=1, le=1024, description="Nodes per run: torchrun starts the run's processes on each.")
    gpus_per_node: int = Field(1, ge=0, description="GPUs per node of each run (one process per GPU).")
    processes_per_node: int | None = Field(
        None, ge=1, le=1024, description="Processes per node of each run (torchrun); default one per GPU, 1 without "
        "GPUs. Also used by --executor local and submitit-local (one node).")
    cpus_per_task: int = Field(8, ge=1, description="CPU cores per node of each run.")
    mem_gb: float = Field(32, gt=0, description="Memory per node of each run, in GB.")
    array_parallelism: int = Field(16, ge=1, description="Most runs at once on the cluster.")
    account: str | None = Field(None, description="Slurm account.")
    constraint: str | None = Field(None, description="Slurm constraint (node features).")
    options: dict[str, Option] = Field(
        default_factory=dict, description="Further parameters of submitit's Slurm executor (e.g. qos, exclude, "
        "mem_per_gpu, additional_parameters); unknown ones are refused.")

    @property
    def processes(self) -> int:
        """torchrun processes on each node of a run."""
        return self.processes_per_node or max(1, self.gpus_per_node)


def parse_time(text: str) -> int:
    """``--time`` in Slurm's formats (minutes, minutes:seconds, hours:minutes:seconds, days-hours,
    days-hours:minutes, days-hours:minutes:seconds), as whole minutes (seconds round up)."""
    text = text.strip()
    days, _, rest = text.rpartition("-") if "-" in text else ("", "", text)
    parts = rest.split(":")
    try:
        d = int(days) if days else 0
        nums = [int(p) for p in parts]
    except ValueError:
        nums = []
    if not nums or len(nums) > 3 or min(nums) < 0 or (days and len(nums) > 3):
        raise SharpregError(f"--time {text!r}: give minutes (90), HH:MM:SS (4:00:00) or D-HH:MM:SS (1-12:00:00)")
    if days:  # days-hours[:minutes[:seconds]]
        h, m, sec = (nums + [0, 0])[:3]
    elif len(nums) == 3:
        h, m, sec = nums
    else:  # minutes[:seconds]
        h, m, sec = 0, nums[0], (nums[1] if len(nums) == 2 else 0)
    minutes = d * 1440 + h * 60 + m + (1 if sec else 0)
    if minutes < 1:
        raise SharpregError(f"--time {text!r} is under a minute")
    return minutes


def parse_option(text: str) -> tuple[str, Option]:
    """``--slurm-option KEY=VALUE``: a number or true/false when it reads as one, else text."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise SharpregError(f"--slurm-option {text!r}: write KEY=VALUE, e.g. --slurm-option qos=high")
    v: Option = value
    if value.lower() in ("true", "false"):
        v = value.lower() == "true"
    else:
        try:
            v = int(value)
        except ValueError:
            try:
                v = float(value)
            except ValueError:
                v = value
    return key.strip(), v


def with_options(base: SlurmConfig, *, partition: str | None = None, time: str | None = None,
                 gpus_per_run: int | None = None, nodes: int | None = None,
                 options: list[str] | None = None) -> SlurmConfig:
    """The grid's ``[slurm]`` with the sweep command's options on top."""
    update: dict[str, Any] = {}
    if partition:
        update["partition"] = partition
    if time:
        update["timeout_min"] = parse_time(time)
    if nodes is not None:
        if nodes < 1:
            raise SharpregError(f"--nodes must be at least 1, not {nodes}")
        update["nodes"] = nodes
    if gpus_per_run is not None:
        n = update.get("nodes", base.nodes)
        if gpus_per_run < 1 or gpus_per_run % n:
            raise SharpregError(f"--gpus-per-run {gpus_per_run} over {n} node{'s' if n > 1 else ''}: give a multiple of "
                                "the nodes (each node holds the same number of GPUs)")
        update["gpus_per_node"] = gpus_per_run // n
        update["processes_per_node"] = gpus_per_run // n
    if options:
        update["options"] = {**base.options, **dict(parse_option(o) for o in options)}
    return base.model_copy(update=update)


def check_options(options: dict[str, Option]) -> None:
    """Each further option is a parameter submitit's Slurm executor knows, and not one of our fields."""
    try:
        import submitit
    except ImportError:
        raise SharpregError("Slurm options need submitit: pip install 'sharpreg[slurm]'") from None
    known = sorted(set(submitit.SlurmExecutor._valid_parameters()) - set(OWN))
    for key in options:
        if key in OWN:
            raise SharpregError(f"Slurm option {key!r} is set through [slurm] {OWN[key]}, not through options")
        if key not in known:
            near = difflib.get_close_matches(key, known, n=3)
            hint = f"did you mean {', '.join(near)}? " if near else ""
            raise SharpregError(f"unknown Slurm option {key!r}; {hint}submitit's Slurm executor knows: {', '.join(known)}")


def submitit_parameters(s: SlurmConfig, cluster: str, name: str) -> dict[str, Any]:
    """``update_parameters`` of an AutoExecutor: one job per run, one task per node of it."""
    params: dict[str, Any] = {"timeout_min": s.timeout_min, "name": name, "nodes": s.nodes, "tasks_per_node": 1}
    if cluster == "slurm":
        check_options(s.options)
        params |= {"gpus_per_node": s.gpus_per_node, "cpus_per_task": s.cpus_per_task, "mem_gb": s.mem_gb,
                   "slurm_array_parallelism": s.array_parallelism}
        named = {"partition": s.partition, "account": s.account, "constraint": s.constraint}
        params |= {f"slurm_{k}": v for k, v in named.items() if v}
        params |= {f"slurm_{k}": v for k, v in s.options.items()}
    elif s.nodes > 1:
        raise SharpregError("submitit's local executor runs on this one machine: set [slurm] nodes = 1 (or --nodes 1)")
    return params


def node_placement(nnodes: int) -> dict[str, Any]:
    """Where this node's torchrun joins its run: inside a Slurm job of ``nnodes`` nodes (one task per
    node), its rank and the first node's address and port (from submitit's job environment)."""
    if nnodes <= 1:
        return {}
    from submitit.helpers import TorchDistributedEnvironment

    env = TorchDistributedEnvironment()
    return {"nnodes": nnodes, "node_rank": env.rank, "master_addr": env.master_addr, "master_port": env.master_port}
