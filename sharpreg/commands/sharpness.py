"""``sharpreg sharpness RUN``: the largest Hessian eigenvalue, the Hessian trace and a 1-D loss slice."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sharpness", help="measure the curvature of a trained run's minimum (λ_max, trace, loss slice)",
        description="Load RUN's trained model (model.safetensors, else checkpoints/best.pt) and measure, on a "
        "fixed subset of its training split (no augmentation, BatchNorm in eval mode), the largest Hessian "
        "eigenvalue (power iteration on Hessian-vector products), the Hessian trace (Hutchinson, Rademacher "
        "probes) and the loss along a filter-normalized random direction. Writes RUN/sharpness.json and "
        "RUN/plots/landscape.png; `sharpreg sweep report` relates them to the test metrics.")
    p.add_argument("run_dir", type=Path, metavar="RUN", help="run folder")
    p.add_argument("--samples", type=int, default=256, help="training images to measure on (default 256)")
    p.add_argument("--iters", type=int, default=20, help="power iterations at most (default 20)")
    p.add_argument("--probes", type=int, default=10, help="Hutchinson probe vectors (default 10)")
    p.add_argument("--points", type=int, default=21, help="points of the loss slice (default 21)")
    p.add_argument("--span", type=float, default=1.0, help="the slice runs over alpha in [-span, span] (default 1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the subset and the random vectors (default 0)")
    p.add_argument("--batch-size", type=int, default=64, help="images per Hessian-vector-product batch")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..console import make_console
    from ..errors import SharpregError
    from ..runs import RunFolder
    from ..specs import MAX_SEED
    from ..study.measure import MeasureOptions, measure

    counts = {"--samples": args.samples, "--iters": args.iters, "--probes": args.probes, "--batch-size": args.batch_size}
    for option, value in counts.items():
        if value < 1:
            raise SharpregError(f"{option} must be at least 1")
    if args.points < 2 or not 0 < args.span < float("inf"):
        raise SharpregError("--points must be at least 2 and --span a positive number")
    if not 0 <= args.seed <= MAX_SEED:
        raise SharpregError(f"--seed must be between 0 and {MAX_SEED}")
    if args.threads is not None:
        if args.threads < 1:
            raise SharpregError("--threads must be at least 1")
        import torch

        torch.set_num_threads(args.threads)
    opts = MeasureOptions(samples=args.samples, iters=args.iters, probes=args.probes, points=args.points,
                          span=args.span, seed=args.seed, batch_size=args.batch_size, device=args.device)
    result = measure(args.run_dir, opts)
    run = RunFolder(args.run_dir)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    conv = "" if result["lambda_max_converged"] else " (not converged: raise --iters)"
    make_console().print(
        f"{args.run_dir}: λ_max {result['lambda_max']:.4g} after {result['lambda_max_iterations']} iterations{conv}; "
        f"trace {result['trace']:.4g} ± {result['trace_stderr']:.2g} ({result['trace_probes']} probes); "
        f"loss {result['loss']:.4f} on {result['samples']} training images; {result['seconds']:.1f} s\n"
        f"wrote {run.path / run.SHARPNESS} and {run.plot('landscape')}")
    return 0
