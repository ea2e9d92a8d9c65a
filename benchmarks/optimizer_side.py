"""The optimizer side of a sharpness step against the physical limit (used by ``step_overhead.py``).

Everything but the forward/backward passes: perturb, restore, combine, the base SGD step, the rule's
post-step, the engine's diagnostics (‖g‖, ‖e‖) but its optional cos(g, g_p) (``log_cos_g_gp = false``:
not the rule's math; ``step_overhead.py`` reports its cost on its own line). It runs on ResNet-50-sized parameters; the backward passes are
stood in for by copying stored gradients, whose time is measured and subtracted. Each rule's time is
set against the minimum bytes its math must move (``FLOOR_P``) and the copy bandwidth of this machine,
measured in the same round.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

import sharpreg_plugins.optimizers as first_party_optimizers
import sharpreg_plugins.rules as first_party_rules
from sharpreg import RuleParams, SchedulePlan
from sharpreg.build import build_rho_schedule
from sharpreg.engine import SharpnessStep, ops
from sharpreg.engine.diagnostics import CleanGradientCopy

RULE_SPECS = {s.name: s for s in first_party_rules.sharpreg_sharpness_rules()}
SGD = next(s for s in first_party_optimizers.sharpreg_optimizers() if s.name == "sgd")
#: CPU time of this process: with one torch thread, time spent descheduled on a shared machine is not counted
clock = time.process_time
#: the rules' settings where the benchmark fixes them (the issue's targets are for k = 5 and p = 0.5)
SETTINGS: dict[str, dict[str, Any]] = {"looksam": {"k": 5}, "rst": {"p": 0.5, "seed": 0}}

# Minimum bytes read + written by the optimizer side of one step, in units of P (the bytes of all
# parameters), by the number of passes the step ran. Rules: a sweep that must finish before the next
# can start (a global norm or inner product) reads its operands once; the base optimizer is a black box
# that reads the final gradient from memory; the engine's diagnostics (‖g‖ where the rule does not need
# it, ‖e‖, cos(g, g_p)) are not counted: they are overhead the rule pays.
#   base step, SGD with momentum: reads w, d, momentum; writes w, momentum ..................... 5
#   SAM-type ascent: ‖g‖ reads g (1); backup = w and w + s g read w, g, write backup, w (4) ...... 5
#   restore: reads backup, writes w ............................................................. 2
FLOOR_P: dict[str, dict[int, int]] = {
    "none": {1: 5},
    "sam": {2: 5 + 2 + 5},
    # ‖T g‖ with T = |w| + eta reads w, g (2); w + s T² g reads w, g, writes backup, w (4)
    "asam": {2: 2 + 4 + 2 + 5},
    # + ⟨g, g_p⟩ and ‖g_p‖² read g, g_p (2); d = g_p − alpha g_⊥ reads g, g_p, writes d (3)
    "gsam": {2: 5 + 2 + 2 + 3 + 5},
    # base step with g; then w −= lr alpha (g_p − g) reads w, g_p, g, writes w (4)
    "wsam": {2: 5 + 2 + 5 + 4},
    # w − e reads backup, g₀, writes w (3); d from g₀, g₊, g₋ reads 3, writes 1 (4)
    "crsam": {3: 5 + 3 + 2 + 4 + 5},
    # SAM step: + ⟨g, g_s⟩, ‖g‖² read g, g_s (2); g_v = g_s − c g reads g, g_s, writes g_v, ‖g_v‖ in
    # that sweep (3); base step with g_s. Reuse step: ‖g‖ (1); d = g + s g_v reads g, g_v, writes d (3)
    "looksam": {2: 5 + 2 + 2 + 3 + 5, 1: 1 + 3 + 5},
    "rst": {2: 5 + 2 + 5, 1: 5},
    # the engine backs up and restores every tensor (2 + 2); the ascent touches only the normalization
    # layers' tensors (0.2 % of ResNet-50's bytes, not counted)
    "sam_on": {2: 5 + 2 + 2},
}


def engine(model: nn.Module, optimizer: torch.optim.Optimizer, name: str, log_cos: bool = False) -> SharpnessStep:
    """Rule ``name`` with the benchmark's settings and its radius schedule (for a constant lr 0.01);
    ``log_cos``: the engine's optional cos(g, g_p) diagnostic (the full-step rounds keep it, as runs do)."""
    spec = RULE_SPECS[name]
    config = spec.params(**SETTINGS.get(name, {}), log_cos_g_gp=log_cos)
    schedule = build_rho_schedule(config, SchedulePlan(lr_range=(0.01, 0.01))) if isinstance(config, RuleParams) else None
    return SharpnessStep(model, optimizer, spec.factory(config), config, rho_schedule=schedule)


def resnet50() -> nn.Module:
    import torchvision

    return torchvision.models.resnet50(weights=None)


class Fake:
    """A model's parameters and stored gradients that stand in for backward passes (the model gives the
    parameters their names and roles: ASAM's scope and SAM-ON select by them).

    ``backward(k)`` writes the stored gradient of pass ``k`` like autograd would (into the existing
    ``.grad`` or a new tensor) and adds its own duration to ``excluded_s``, which the timing
    subtracts: what remains is the optimizer side only.
    """

    def __init__(self, module: nn.Module, passes: int = 3) -> None:
        gen = torch.Generator().manual_seed(0)
        self.module = module
        self.params = list(module.parameters())
        with torch.no_grad():
            for p in self.params:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.05)
        self.stored = [[torch.randn(p.shape, generator=gen) * 1e-3 for p in self.params] for _ in range(passes)]
        self.excluded_s = 0.0
        self.copy_target = [torch.empty_like(p) for p in self.params]
        self.bytes = ops.tensor_bytes(self.params)

    def backward(self, k: int) -> None:
        t = clock()
        for p, g in zip(self.params, self.stored[k]):
            if p.grad is None:
                p.grad = g.clone()
            else:
                p.grad.add_(g)
        self.excluded_s += clock() - t

    def copy_bandwidth(self, reps: int = 3) -> float:
        """Bytes per second of a foreach copy over the same tensors (read + write counted), the
        fastest of ``reps``."""
        best = float("inf")
        for _ in range(reps):
            t = clock()
            torch._foreach_copy_(self.copy_target, self.params)
            best = min(best, clock() - t)
        return 2 * self.bytes / best

    def cos_copy_seconds(self, reps: int = 3) -> float:
        """The engine's cos(g, g_p) bookkeeping for a rule that releases g: its bfloat16 copy of g and the
        copy's dot product with g_p, in one sweep with ‖g_p‖² (taken for every rule), the fastest of ``reps``."""
        copy = CleanGradientCopy()
        holder = type("Ctx", (), {"grads": [self.stored[0]], "grad_norm": None})()  # what before_ascent reads
        best = float("inf")
        for _ in range(reps + 1):  # the first call allocates the copy
            t = clock()
            copy.before_ascent(holder)  # type: ignore[arg-type]
            float(ops.dot_and_square(copy.buffers, self.stored[1])[0])
            best = min(best, clock() - t)
        return best

    def sgd(self, params: list[torch.Tensor] | None = None) -> torch.optim.Optimizer:
        """The base optimizer a recipe gets: the ``sgd`` plugin (fused where torch has it)."""
        return SGD.factory([{"params": params or self.params}], SGD.params(lr=0.01, momentum=0.9))


@dataclass
class Timed:
    """One rule's optimizer side over one round."""

    seconds: float
    floor_bytes: int
    passes: list[int] = field(default_factory=list)


class Ours:
    """A sharpreg rule driven through the engine's phases on the stand-in parameters."""

    def __init__(self, fake: Fake, name: str) -> None:
        self.fake, self.name = fake, name
        self.engine = engine(fake.module, fake.sgd(), name)
        self._loss = torch.zeros(())

    def run(self, steps: int) -> Timed:
        fake, engine = self.fake, self.engine
        fake.excluded_s, passes = 0.0, []
        t = clock()
        for _ in range(steps):
            ctx = engine.begin()
            for k in range(ctx.n_passes):
                engine.before_pass(ctx, k)
                fake.backward(k)
                engine.after_pass(ctx, k, self._loss)
            passes.append(engine.finish(ctx).passes)
        seconds = clock() - t - fake.excluded_s
        floor = sum(FLOOR_P[self.name][n] for n in passes) * fake.bytes
        return Timed(seconds, floor, passes)

    def extra_memory_bytes(self) -> int:
        """What the engine held beyond weights and the current gradient, plus tensors the rule keeps."""
        state = self.engine.rule.state_dict()
        kept = [t for v in state.values() for t in (v if isinstance(v, list) else [v]) if isinstance(t, torch.Tensor)]
        return self.engine.peak_extra_bytes + ops.tensor_bytes(kept)


class Reference:
    """pytorch-optimizer's implementation of a rule, foreach. Its wrappers hand their parameter groups,
    with their ``foreach`` flag, to the base optimizer, so their SGD is torch's foreach SGD (fused and
    foreach cannot both be on)."""

    def __init__(self, fake: Fake, name: str) -> None:
        import pytorch_optimizer as po

        self.fake, self.calls = fake, 0
        base = {"lr": 0.01, "momentum": 0.9}
        params = fake.params
        if name == "sam":
            opt = po.SAM(params, torch.optim.SGD, rho=0.05, foreach=True, **base)
        elif name == "asam":  # adaptive SAM: every tensor scaled by w² (eta = 0), not sharpreg's default scope
            opt = po.SAM(params, torch.optim.SGD, rho=0.5, adaptive=True, foreach=True, **base)
        elif name == "wsam":
            opt = po.WSAM(fake.module, params, torch.optim.SGD, rho=0.05, gamma=0.9, foreach=True, **base)
        elif name == "looksam":
            opt = po.LookSAM(params, torch.optim.SGD, rho=0.05, k=5, alpha=0.7, foreach=True, **base)
        elif name == "gsam":
            sgd = torch.optim.SGD(params, foreach=True, **base)
            sched = torch.optim.lr_scheduler.LambdaLR(sgd, lambda s: 1.0)
            rho = po.ProportionScheduler(sched, max_lr=0.01, min_lr=0.0, max_value=0.05, min_value=0.05)
            opt = po.GSAM(params, sgd, fake.module, rho, alpha=0.4, foreach=True)
        else:
            raise KeyError(name)
        self.opt, self.name = opt, name

    def _closure(self) -> torch.Tensor:
        for p in self.fake.params:
            p.grad = None
        self.fake.backward(self.calls % 2)
        self.calls += 1
        return torch.zeros(())

    def step(self) -> None:
        if self.name == "gsam":
            self.opt.step(lambda: (None, self._closure()))
        elif self.name == "wsam":
            self.opt.step(self._closure)  # WSAM's step runs the closure for both passes
        else:
            self._closure()
            self.opt.step(self._closure)

    def run(self, steps: int) -> float:
        self.fake.excluded_s = 0.0
        t = clock()
        for _ in range(steps):
            self.step()
        return clock() - t - self.fake.excluded_s


def references(fake: Fake, names: list[str]) -> dict[str, Reference]:
    """pytorch-optimizer's implementations of the rules that have one (none without the package)."""
    try:
        import pytorch_optimizer  # noqa: F401
    except ImportError:
        return {}
    return {n: Reference(fake, n) for n in names if n in ("sam", "asam", "gsam", "wsam", "looksam")}


def measure_rounds(names: list[str], rounds: int, steps: int,
                   progress: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
    """Every rule (then every reference) ``steps`` steps per round, interleaved; the copy bandwidth
    at the start of each round. Returns the per-round samples."""
    fake = Fake(resnet50())
    ours = {n: Ours(fake, n) for n in names}
    refs = references(fake, names)
    for runner in [*ours.values(), *refs.values()]:  # warm-up (allocations; a whole LookSAM cycle)
        runner.run(steps)
    for p in fake.params:
        p.grad = None
    out: dict[str, Any] = {"bandwidth": [], "cos_copy": [], "ours": {n: [] for n in ours},
                           "reference": {n: [] for n in refs}}
    for r in range(rounds):
        progress(f"optimizer side, round {r + 1}/{rounds}")
        out["bandwidth"].append(fake.copy_bandwidth())
        out["cos_copy"].append(fake.cos_copy_seconds() * out["bandwidth"][-1] / (2 * fake.bytes))
        for n, runner in ours.items():  # each rule, then its reference right after it
            out["ours"][n].append(runner.run(steps))
            for p in fake.params:
                p.grad = None
            if n in refs:
                out["reference"][n].append(refs[n].run(steps))
    out["extra_memory_bytes"] = {n: runner.extra_memory_bytes() for n, runner in ours.items()}
    out["parameters"] = sum(p.numel() for p in fake.params)
    out["parameter_bytes"] = fake.bytes
    return out
