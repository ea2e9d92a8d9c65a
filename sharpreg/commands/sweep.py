"""``sharpreg sweep GRID.toml`` runs a grid of recipes; ``sharpreg sweep report SWEEP_DIR`` aggregates it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import get_args

from ..study.sweep import Executor

EXECUTORS = get_args(Executor)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sweep", help="run a grid of recipes (methods x models x seeds); `sweep report DIR` aggregates one",
        usage="sharpreg sweep GRID.toml [--workers N] [--threads T] [--out DIR] [--dry-run | --plan] [--executor E]\n"
              "       [--partition P] [--time T] [--gpus-per-run G] [--nodes K] [--slurm-option KEY=VALUE]...\n"
              "       sharpreg sweep report SWEEP_DIR [--no-plots]",
        description="Run every combination of GRID.toml (a base recipe and value lists) as a run folder "
        "SWEEP_DIR/runs/<id>/, resumably: finished runs are skipped and interrupted ones resumed, so the same "
        "command continues a stopped sweep. The report (report.md, report.csv, runs.csv, plots/) is written at "
        "the end; `sharpreg sweep report SWEEP_DIR` writes it again. See docs/study.md for the grid format.")
    p.add_argument("target", metavar="GRID.toml", help="grid file (or the word `report` followed by SWEEP_DIR)")
    p.add_argument("sweep_dir", nargs="?", type=Path, metavar="SWEEP_DIR", help=argparse.SUPPRESS)
    p.add_argument("--workers", type=int, default=None, help="parallel runs on this machine (default: the grid's `workers`)")
    p.add_argument("--threads", type=int, default=None, help="torch threads per run (default: the grid's `threads`)")
    p.add_argument("--out", type=Path, default=None, help="sweep folder (default: sweeps/<grid name>)")
    p.add_argument("--dry-run", action="store_true", help="validate every run and list what would run; run nothing")
    p.add_argument("--plan", action="store_true",
                   help="--dry-run with an estimate: time a few steps of each distinct run (as `sharpreg run --plan`), "
                   "then the sweep's wall time on --workers x --threads; run nothing")
    p.add_argument("--executor", choices=EXECUTORS, default="local",
                   help="local worker processes (default), Slurm via submitit, or submitit's local executor")
    slurm = p.add_argument_group("cluster", "each run's resources (override the grid's [slurm] table)")
    slurm.add_argument("--partition", default=None, help="Slurm partition")
    slurm.add_argument("--time", default=None, metavar="T", help="time limit of one run: minutes or HH:MM:SS")
    slurm.add_argument("--gpus-per-run", type=int, default=None, metavar="G",
                       help="GPUs of each run, spread evenly over --nodes; one process per GPU, started by torchrun "
                       "(with --executor local: G processes on this machine)")
    slurm.add_argument("--nodes", type=int, default=None, metavar="K", help="nodes of each run (Slurm)")
    slurm.add_argument("--slurm-option", dest="slurm_options", action="append", default=[], metavar="KEY=VALUE",
                       help="any other parameter of submitit's Slurm executor (e.g. qos=high, exclude=node7); "
                       "repeatable; unknown keys are refused")
    p.add_argument("--no-progress", action="store_true", help="no progress view")
    p.add_argument("--no-report", action="store_true", help="do not write the report at the end")
    p.add_argument("--no-plots", action="store_true", help="report tables only, no plots")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import SharpregError

    if args.target == "report" and not Path("report").is_file():
        if args.sweep_dir is None:
            raise SharpregError("usage: sharpreg sweep report SWEEP_DIR")
        return report(args.sweep_dir, plots=not args.no_plots)
    if args.target == "run" and args.sweep_dir is not None:
        args.target, args.sweep_dir = str(args.sweep_dir), None
    if args.sweep_dir is not None:
        raise SharpregError(f"unexpected argument {args.sweep_dir} (did you mean `sharpreg sweep report {args.sweep_dir}`?)")
    return sweep(args)


def report(sweep_dir: Path, *, plots: bool = True) -> int:
    from ..console import make_console

    from ..study.report import write_report

    md = write_report(sweep_dir, plots=plots)
    print_headline(make_console(), sweep_dir)
    make_console(stderr=True).print(f"report: {md}, {md.with_name('report.csv')}, {md.with_name('runs.csv')}"
                               + (f", {md.parent / 'plots'}/" if plots else ""))
    return 0


def print_headline(console, sweep_dir: Path) -> None:
    """One table per model on the console: the primary metric per method, its paired difference to the
    baseline with its interval, the nominal and Holm-corrected p-values."""
    import math

    from rich.table import Table

    from ..study.aggregate import PRIMARY, aggregate, collect
    from ..study.report_md import fmt, fmt_ci, fmt_p, fmt_pm

    records, manifest = collect(sweep_dir)
    baseline = str(manifest.get("baseline", "none"))
    rows = [r for r in aggregate(records, baseline) if r["metric"] == PRIMARY]
    for setting, model in sorted({(r["setting"], r["model"]) for r in rows}):
        table = Table(title=f"{model}{' · ' + setting if setting else ''}: test {PRIMARY}", title_justify="left")
        for col in ("method", "n", "mean ± std", f"Δ vs {baseline} [95 % CI]", "p", "Holm p", "test", "compute", "s/run"):
            table.add_column(col, justify="left" if col in ("method", "test") else "right")
        for r in rows:
            if (r["setting"], r["model"]) != (setting, model):
                continue
            diff = "" if math.isnan(r.get("diff_mean", math.nan)) else \
                f"{r['diff_mean']:+.3f}{fmt_ci(r['diff_ci_low'], r['diff_ci_high'])}"
            compute = "" if math.isnan(r.get("compute", math.nan)) else f"{r['compute']:.2f}×"
            table.add_row(r["method"], str(r["n"]), fmt_pm(r["mean"], r["std"]), diff,
                          fmt_p(r["p_value"]) if "p_value" in r else "", fmt_p(r.get("p_value_holm")) if "p_value" in r else "",
                          r.get("test", ""), compute, fmt(r["seconds_mean"], 0))
        console.print(table)


def print_plan(grid, out: Path, tasks) -> None:
    """``--dry-run``: every run (tuning runs first) with what it needs and its overrides."""
    from rich.table import Table

    from ..console import make_console

    keys = grid.tuning.keys if grid.tuning else {}
    tuned = f" ({len(grid.tuning.runs)} tuning runs first choose {', '.join(sorted(set(keys.values())))} on " \
        "validation)" if grid.tuning else ""
    todo = sum(t.action not in ("skip", "busy") for t in tasks)
    table = Table(title=f"sweep {grid.name}: {len(tasks)} runs into {out}{tuned} ({todo} to do; all recipes valid)",
                  title_justify="left")
    for col in ("run", "action", "overrides"):
        table.add_column(col)
    for t in tasks:
        chosen = f" + {keys[t.variant]} as chosen" if not t.tuning and t.variant in keys else ""
        table.add_row(("tune/" if t.tuning else "") + t.id, t.action + (f" ({t.note})" if t.note else ""),
                      " ".join(t.overrides) + chosen)
    make_console().print(table)


def sweep(args: argparse.Namespace) -> int:
    from ..console import make_console

    from ..errors import SharpregError
    from ..paths import child
    from ..study.cluster import check_options, with_options
    from ..study.grid import load_grid
    from ..study.manifest import Status
    from ..study.sweep import Action, SweepOptions, plan, run_sweep

    console = make_console(stderr=True)
    grid = load_grid(Path(args.target))
    out = args.out or child(Path("sweeps"), grid.name, "the sweep name")
    workers = args.workers or grid.config.workers
    threads = args.threads or grid.config.threads
    if workers < 1 or threads < 1:
        raise SharpregError("--workers and --threads must be at least 1")
    slurm = with_options(grid.config.slurm, partition=args.partition, time=args.time, gpus_per_run=args.gpus_per_run,
                         nodes=args.nodes, options=args.slurm_options)
    if slurm.options:
        check_options(slurm.options)
    if args.executor != "slurm" and slurm.nodes > 1:
        raise SharpregError(f"--executor {args.executor} runs on this one machine; a run on {slurm.nodes} nodes needs "
                            "--executor slurm")
    tasks = plan(grid, out, tuning=True) + plan(grid, out) if grid.tuning else plan(grid, out)
    todo = [t for t in tasks if t.action not in (Action.SKIP, Action.BUSY)]
    if args.plan:
        return plan_sweep(grid, tasks, out, workers, threads)
    if args.dry_run:
        print_plan(grid, out, tasks)
        return 0
    console.print(f"sweep {grid.name}: {len(tasks)} runs, {len(tasks) - len(todo)} finished, {len(todo)} to run "
                  f"into {out} ({args.executor}, {workers} workers x {threads} threads)")
    manifest = run_sweep(grid, out, SweepOptions(workers=workers, threads=threads, executor=args.executor,
                                                 progress=not args.no_progress, slurm=slurm), console=console)
    runs = manifest.data["runs"]
    tune = manifest.data.get("tune") or {}
    failed = [k for k, v in {**tune.get("runs", {}), **runs}.items() if v.get("status") != Status.DONE]
    console.print(f"sweep {grid.name}: {sum(v.get('status') == Status.DONE for v in runs.values())}/{len(grid.combos)} "
                  f"runs finished; wall time this session {manifest.data['sessions'][-1]['seconds']:.0f} s")
    for k in failed:
        entry = manifest.entry(k)
        detail = entry.get("note") if entry.get("status") == Status.BUSY else f"log {out / entry.get('log', '')}"
        console.print(f"  {k}: {entry.get('status')} ({detail})")
    if tune.get("waiting"):
        console.print(f"  {len(tune['waiting'])} main runs wait for their tuning runs")
    if not args.no_report and any(v.get("status") == Status.DONE for v in runs.values()):
        report(out, plots=not args.no_plots)
    return 1 if failed else 0


def plan_sweep(grid, tasks, out: Path, workers: int, threads: int) -> int:  # noqa: ANN001 - Grid, list[Task]
    """The estimate of every run left to do and of the sweep's wall time."""
    from rich.table import Table

    from ..console import make_console
    from ..study.costs import estimate_sweep, sweep_seconds
    from ..training.estimate import count, duration
    from .run import PLAN_STEPS

    err = make_console(stderr=True)
    costs = estimate_sweep(grid, tasks, threads, PLAN_STEPS, announce=lambda m: err.print(m, markup=False))
    wall = sweep_seconds(costs, workers, threads)
    table = Table(title=f"sweep {grid.name}: {len(costs)} of {len(tasks)} runs to do into {out}; about "
                  f"{duration(wall)} on {count(workers, 'worker')} x {count(threads, 'thread')} (set-up and "
                  "training; the final test evaluation of each run is not included)", title_justify="left",
                  caption="timed no: the same recipe as a timed run but for its seed, so the same cost",
                  caption_justify="left")
    for col in ("run", "action", "epochs", "s/step", "set-up", "training", "timed"):
        table.add_column(col, justify="left" if col in ("run", "action", "timed") else "right", no_wrap=col == "run")
    for c in costs:
        e = c.estimate
        table.add_row(c.task.id, str(c.task.action), str(e.work.epochs_left), f"{e.seconds_per_step:.3g}",
                      duration(c.setup_seconds), duration(e.run_seconds), "yes" if c.measured else "no")
    make_console().print(table)
    return 0
