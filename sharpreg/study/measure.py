"""``sharpreg sharpness RUN``: sharpness of a trained run's minimum on a fixed subset of its training split.

The model is rebuilt and loaded by the evaluation step (the best epoch's weights, as tested: the run's
``model.safetensors``, else its best checkpoint). The loss is the run's training loss
(cross-entropy with the same class weights and label smoothing) on ``samples`` training images drawn
with a fixed seed, without augmentation, with the model in eval mode (BatchNorm uses its running
statistics, dropout is off), in fp32. Measured: λ_max and the Hessian trace (``hessian.py``), the weight
norms and the average- and worst-case adaptive sharpness (``adaptive.py``), a 1-D loss slice; the
seconds of each part are recorded.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Subset

from ..build import build_datamodule, build_loss
from ..errors import RunError
from ..evaluation.inference import batch_inputs, loader
from ..evaluation.step import load_trained
from ..runs import RunFolder
from . import adaptive, hessian


@dataclass
class MeasureOptions:
    samples: int = 256
    iters: int = 20
    probes: int = 10
    points: int = 21
    span: float = 1.0
    seed: int = 0
    batch_size: int = 64
    device: str = "cpu"
    avg_rho: float = 0.2
    avg_samples: int = 10
    max_rho: float = 0.002
    ascent_steps: int = 5


def subset_batches(dm: Any, samples: int, seed: int, batch_size: int, device: torch.device) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``samples`` images of the training split (no augmentation), drawn with ``seed``, in memory."""
    ds = dm.dataset("train", train_transforms=False)
    n = len(ds)
    if n == 0:
        raise RunError("the training split is empty")
    idx = np.sort(np.random.default_rng(seed).choice(n, size=min(samples, n), replace=False))
    return [batch_inputs(batch, device) for batch in loader(Subset(ds, idx.tolist()), batch_size)]


def _math_attention() -> contextlib.AbstractContextManager:
    """Double backward needs the math kernel of scaled-dot-product attention."""
    try:
        from torch.nn.attention import SDPBackend, sdpa_kernel

        return sdpa_kernel(SDPBackend.MATH)
    except ImportError:  # pragma: no cover - older torch
        return contextlib.nullcontext()


class _Clock:
    """Calls a part of the measurement and keeps its wall seconds."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def __call__(self, name: str, fn: Any) -> Any:
        t0 = time.perf_counter()
        out = fn()
        self.seconds[name] = round(time.perf_counter() - t0, 3)
        return out


def measure(run_dir: Path, options: MeasureOptions, *, write: bool = True) -> dict[str, Any]:
    """Measure λ_max, tr(H) and a 1-D loss slice; write ``sharpness.json`` and ``plots/landscape.png``
    (holding the run folder's lock throughout, so a second measurement or a training waits its turn)."""
    run = RunFolder.open(Path(run_dir))
    with run.locked("sharpness") if write else contextlib.nullcontext():
        result = _measure(run, options)
        if write:
            run.write_sharpness(result)
            draw_landscape(result, run.plot("landscape"), title=run.load_recipe().name)
    return result


def _measure(run: RunFolder, options: MeasureOptions) -> dict[str, Any]:
    t0 = time.perf_counter()
    device = torch.device(options.device)
    trained = load_trained(run, device)
    recipe, model = trained.recipe, trained.model
    model.eval()
    dm = build_datamodule(recipe)
    dm.setup()
    batches = subset_batches(dm, options.samples, options.seed, options.batch_size, device)
    n = sum(len(y) for _, y in batches)
    loss_fn = build_loss(recipe, dm.num_classes, np.bincount(dm.labels("train"), minlength=dm.num_classes), device)
    params = [p for p in model.parameters() if p.requires_grad]

    def terms():
        for x, y in batches:
            yield loss_fn(model(x), y) * (len(y) / n)

    @torch.no_grad()
    def full_loss() -> float:
        return float(sum(float(t) for t in terms()))

    gen = torch.Generator().manual_seed(options.seed)
    clock = _Clock()
    o = options
    with _math_attention():
        loss0 = clock("loss", full_loss)
        eig = clock("lambda_max", lambda: hessian.top_eigenvalue(terms, params, iters=o.iters, generator=gen))
        tr = clock("trace", lambda: hessian.hutchinson_trace(terms, params, probes=o.probes, generator=gen))
        norms = adaptive.weight_norms(params)
        avg = clock("adaptive_avg", lambda: adaptive.adaptive_average(full_loss, params, rho=o.avg_rho,
                                                                      samples=o.avg_samples, generator=gen,
                                                                      loss0=loss0))
        worst = clock("adaptive_max", lambda: adaptive.adaptive_worst(terms, params, rho=o.max_rho,
                                                                      steps=o.ascent_steps))
        direction = hessian.filter_normalized_direction(params, generator=gen)
        alphas = np.linspace(-o.span, o.span, o.points).round(6).tolist()
        slice_ = clock("slice", lambda: hessian.loss_slice(full_loss, params, direction, alphas))
    result = {
        "run": str(run.path), "weights": trained.weights, "split": "train", "samples": n, "seed": options.seed,
        "mode": "eval (BatchNorm running statistics, no dropout), fp32, no augmentation",
        "loss": loss0,
        "lambda_max": eig.value, "lambda_max_iterations": eig.iterations, "lambda_max_converged": eig.converged,
        "lambda_max_history": eig.history,
        "trace": tr.value, "trace_stderr": tr.stderr, "trace_probes": tr.probes,
        **norms,
        "adaptive_sharpness_avg": avg.value, "adaptive_sharpness_avg_stderr": avg.stderr,
        "adaptive_sharpness_avg_rho": o.avg_rho, "adaptive_sharpness_avg_samples": o.avg_samples,
        "adaptive_sharpness_max": worst.value, "adaptive_sharpness_max_history": list(worst.history),
        "adaptive_sharpness_max_rho": o.max_rho, "adaptive_sharpness_max_steps": o.ascent_steps,
        "adaptive_definition": "avg: E_z L(w + rho |w| z) - L(w), z ~ N(0, I); max: max over |d| <= rho |w| "
                               "(element-wise) of L(w + d) - L(w), from below by projected sign-gradient ascent; "
                               "every trainable parameter, eta = 0",
        "landscape": {"alphas": alphas, "loss": slice_,
                      "direction": "Gaussian, filter-normalized (Li et al. 2018); biases and norm weights 0"},
        "parameters": int(sum(p.numel() for p in params)),
        "seconds": round(time.perf_counter() - t0, 2), "seconds_parts": clock.seconds, "device": str(device),
    }
    return result


def draw_landscape(result: dict[str, Any], path: Path, title: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    land = result["landscape"]
    fig, ax = plt.subplots(figsize=(5, 3.6))
    ax.plot(land["alphas"], land["loss"], marker="o", ms=3)
    ax.axvline(0, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("step along a filter-normalized random direction (α)")
    ax.set_ylabel(f"training loss ({result['samples']} images)")
    ax.set_title(f"{title}\nλ_max {result['lambda_max']:.3g}, trace {result['trace']:.3g} ± {result['trace_stderr']:.2g}",
                 fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
