"""``sharpreg sharpness RUN``: the largest Hessian eigenvalue, the Hessian trace and a 1-D loss slice."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sharpness", help="measure the sharpness of a trained run's minimum (λ_max, trace, weight norms, adaptive "
        "sharpness, loss slice)",
        description="Load RUN's trained model (model.safetensors, else checkpoints/best.pt) and measure, on a "
        "fixed subset of its training split (no augmentation, BatchNorm in eval mode), the largest Hessian "
        "eigenvalue (power iteration on Hessian-vector products), the Hessian trace (Hutchinson, Rademacher "
        "probes), the weight norms, the scale-invariant adaptive sharpness (average case: E L(w + rho |w| z) - "
        "L(w), z Gaussian; worst case: the largest L(w + d) - L(w) with |d| <= rho |w| element-wise, by "
        "sign-gradient ascent) and the loss along a filter-normalized random direction. Writes "
        "RUN/sharpness.json and RUN/plots/landscape.png; `sharpreg sweep report` relates them to the test metrics.")
    p.add_argument("run_dir", type=Path, metavar="RUN", help="run folder")
    p.add_argument("--samples", type=int, default=256, help="training images to measure on (default 256)")
    p.add_argument("--iters", type=int, default=20, help="power iterations at most (default 20)")
    p.add_argument("--probes", type=int, default=10, help="Hutchinson probe vectors (default 10)")
    p.add_argument("--points", type=int, default=21, help="points of the loss slice (default 21)")
    p.add_argument("--span", type=float, default=1.0, help="the slice runs over alpha in [-span, span] (default 1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the subset and the random vectors (default 0)")
    p.add_argument("--batch-size", type=int, default=64, help="images per Hessian-vector-product batch")
    p.add_argument("--avg-rho", type=float, default=0.2,
                   help="radius of the average-case adaptive sharpness: Gaussian noise of std rho |w| (default 0.2)")
    p.add_argument("--avg-samples", type=int, default=10, help="antithetic Gaussian pairs of the average case (default 10)")
    p.add_argument("--max-rho", type=float, default=0.002,
                   help="radius of the worst-case adaptive sharpness: |d| <= rho |w| element-wise (default 0.002)")
    p.add_argument("--ascent-steps", type=int, default=5, help="ascent steps of the worst case (default 5)")
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

    counts = {"--samples": args.samples, "--iters": args.iters, "--probes": args.probes, "--batch-size": args.batch_size,
              "--avg-samples": args.avg_samples, "--ascent-steps": args.ascent_steps}
    for option, value in counts.items():
        if value < 1:
            raise SharpregError(f"{option} must be at least 1")
    if args.points < 2 or not all(0 < v < float("inf") for v in (args.span, args.avg_rho, args.max_rho)):
        raise SharpregError("--points must be at least 2; --span, --avg-rho and --max-rho positive numbers")
    if not 0 <= args.seed <= MAX_SEED:
        raise SharpregError(f"--seed must be between 0 and {MAX_SEED}")
    if args.threads is not None:
        if args.threads < 1:
            raise SharpregError("--threads must be at least 1")
        import torch

        torch.set_num_threads(args.threads)
    opts = MeasureOptions(samples=args.samples, iters=args.iters, probes=args.probes, points=args.points,
                          span=args.span, seed=args.seed, batch_size=args.batch_size, device=args.device,
                          avg_rho=args.avg_rho, avg_samples=args.avg_samples, max_rho=args.max_rho,
                          ascent_steps=args.ascent_steps)
    result = measure(args.run_dir, opts)
    run = RunFolder(args.run_dir)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    conv = "" if result["lambda_max_converged"] else " (not converged: raise --iters)"
    make_console().print(
        f"{args.run_dir}: λ_max {result['lambda_max']:.4g} after {result['lambda_max_iterations']} iterations{conv}; "
        f"trace {result['trace']:.4g} ± {result['trace_stderr']:.2g} ({result['trace_probes']} probes); "
        f"‖w‖ {result['weight_norm']:.4g}; adaptive sharpness: average (rho {result['adaptive_sharpness_avg_rho']:g}) "
        f"{result['adaptive_sharpness_avg']:.4g} ± {result['adaptive_sharpness_avg_stderr'] or 0:.2g}, worst case "
        f"(rho {result['adaptive_sharpness_max_rho']:g}) {result['adaptive_sharpness_max']:.4g}; loss {result['loss']:.4f} on {result['samples']} training images; "
        f"{result['seconds']:.1f} s ("
        + ", ".join(f"{k} {v:.1f}" for k, v in result["seconds_parts"].items()) + ")\n"
        f"wrote {run.path / run.SHARPNESS} and {run.plot('landscape')}")
    return 0
