"""A sweep's estimate, from the same timed steps as ``sharpreg run --plan``: each distinct run (seeds
cost the same) is built in memory and a few of its steps are timed on the sweep's threads per run; the
sweep's wall time assumes the runs share the workers evenly and slow each other down in proportion when
workers x threads exceed the usable cores."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch

from ..devices import usable_cores
from ..recipe import Recipe, load_recipe
from ..training.estimate import Estimate
from ..training.plan import dry_run
from .grid import Grid
from .tasks import Action, Task


@dataclass(frozen=True)
class RunCost:
    task: Task
    estimate: Estimate
    setup_seconds: float
    """building the run and preparing its data, before the first step"""
    measured: bool
    """False: the estimate of an earlier run that costs the same (another seed)"""


def cost_key(recipe: Recipe) -> str:
    """What sets a run's cost: the resolved recipe without its name, description and seed."""
    data = recipe.resolved()
    data.pop("meta", None)
    data["train"].pop("seed", None)
    return json.dumps(data, sort_keys=True, default=str)


def estimate_sweep(grid: Grid, tasks: list[Task], threads: int, timed_steps: int,
                   announce: Callable[[str], None] = lambda _: None) -> list[RunCost]:
    """An estimate of every run that is left to do (finished runs are left out)."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    measured: dict[str, tuple[Estimate, float]] = {}
    out: list[RunCost] = []
    try:
        for task in tasks:
            if task.action in (Action.SKIP, Action.MEASURE, Action.BUSY):  # finished, or another process runs it
                continue
            recipe = load_recipe(grid.recipe, task.overrides)
            key = cost_key(recipe)
            fresh = key not in measured
            if fresh:
                announce(f"timing {task.id} ({timed_steps} steps after a warm-up step)")
                plan, est = dry_run(recipe, timed_steps=timed_steps)
                measured[key] = est, plan.setup_seconds
            est, setup = measured[key]
            if task.action is Action.RESUME:
                est = replace(est, work=est.work.after(task.run.epochs_done()))
            out.append(RunCost(task, est, setup, fresh))
    finally:
        torch.set_num_threads(before)
    return out


def sweep_seconds(costs: list[RunCost], workers: int, threads: int) -> float:
    """Wall time of the runs (set-up and training; not their final test evaluation) on ``workers``
    parallel workers of ``threads`` threads each: at least the longest run, else the total shared evenly."""
    if not costs:
        return 0.0
    seconds = [c.setup_seconds + c.estimate.run_seconds for c in costs]
    parallel = min(workers, len(costs))
    crowding = max(1.0, parallel * threads / usable_cores())
    return max(sum(seconds) / parallel, max(seconds)) * crowding
