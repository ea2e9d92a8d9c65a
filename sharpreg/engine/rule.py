"""The contract between the step engine and a sharpness rule (DESIGN section 5).

A rule is tensor math only. The engine runs the forward/backward passes; between them it calls the
rule to write a perturbation (``ascent``) and, after the last pass, to combine the per-pass gradients
into the final gradient (``combine``). The engine restores the weights by copy, handles AMP, BatchNorm,
RNG replay, clipping, accumulation and DDP.

Buffers. ``ctx.grads[k]`` holds the gradient of pass ``k`` (the engine's gradient tensors, not
copies). A rule that no longer needs a pass's gradient sets ``ctx.grads[k] = None`` inside ``ascent``;
the engine then drops those tensors before the next backward, so e.g. SAM holds a single weight-sized
buffer (the backup of w) beyond the gradients of the current pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import torch

from . import ops
from .roles import ParamInfo, Role, indices


@dataclass
class StepContext:
    """Everything a rule may read or write during one step.

    ``params``: the trainable parameters (fixed order); ``param_info[i]``: what ``params[i]`` is (qualified
    name, owning module type, role; see ``sharpreg.engine.roles``). ``at_backup`` is true while the
    parameters still equal ``backup`` (before the first ascent), so a rule may add its perturbation in
    place. ``grads[k]``: the gradient of pass ``k``
    (``grads[0]`` is the clean gradient g at w), one tensor per parameter, unscaled (fp16) and, under
    DDP with ``perturbation = "global"``, the first pass already averaged over replicas; ``None`` once
    the rule released it. ``backup``: the weights w before any perturbation (the engine restores from
    it after the last pass). ``rho``: the radius for this step (after the schedule). ``lr``: the base
    optimizer's current learning rate per parameter. ``weight_decay``: the base optimizer's weight
    decay per parameter. ``diagnostics``: rule-specific scalars to log. ``g_dot_gp`` and ``gp_sq``:
    ⟨g, g_p⟩ and ⟨g_p, g_p⟩ as computed for the diagnostics (``None`` when unknown or stale, e.g.
    after the DDP average); a rule may reuse them instead of reading the gradients again.
    """

    params: list[torch.Tensor]
    backup: list[torch.Tensor]
    grads: list[list[torch.Tensor] | None]
    rho: float
    lr: list[float]
    step: int
    optimizer: torch.optim.Optimizer
    param_info: Sequence[ParamInfo] = ()
    eps: float = 1e-12
    n_passes: int = 1
    reduced_first: bool = False
    at_backup: bool = False
    weight_decay: list[float] = field(default_factory=list)
    perturb_weight_decay: bool = False
    losses: list[torch.Tensor] = field(default_factory=list)
    diagnostics: dict[str, float] = field(default_factory=dict)
    perturbation_norm: torch.Tensor | float | None = None
    grad_norm: torch.Tensor | None = None
    cos_g_gp: torch.Tensor | float | None = None
    g_dot_gp: torch.Tensor | None = None
    gp_sq: torch.Tensor | None = None

    # -- helpers for rules ---------------------------------------------------------------------
    def clean_grad_norm(self) -> torch.Tensor:
        """‖g‖ over all parameters (cached; 0-dim fp32 tensor)."""
        if self.grad_norm is None:
            if self.grads[0] is None:
                raise RuntimeError("the clean gradient was released before its norm was taken")
            self.grad_norm = ops.global_norm(self.grads[0])
        return self.grad_norm

    def ascent_grads(self) -> list[torch.Tensor]:
        """The gradient that defines the perturbation: g, plus ``wd * w`` with
        ``perturb_weight_decay`` (a temporary list in that case)."""
        g = self.grads[0]
        if g is None:
            raise RuntimeError("the clean gradient was released")
        if not self.perturb_weight_decay or not any(self.weight_decay):
            return g
        return [gi + wd * w if wd else gi for gi, w, wd in zip(g, self.backup, self.weight_decay)]

    def indices(self, *roles: Role) -> list[int]:
        """Positions of the parameters whose role is one of ``roles`` (e.g. ``ctx.indices("norm")``)."""
        return indices(self.param_info, roles)

    def lr_groups(self) -> list[tuple[float, list[int]]]:
        """Parameter indices grouped by learning rate (for foreach ops with a Python scalar)."""
        out: dict[float, list[int]] = {}
        for i, lr in enumerate(self.lr):
            out.setdefault(lr, []).append(i)
        return list(out.items())


@runtime_checkable
class SharpnessRule(Protocol):
    """What a ``RuleSpec.factory(config)`` returns (``config``: the validated parameters of the rule).

    Optional: ``set_total_steps(total_steps: int) -> None`` receives the run's planned number of
    steps (``SharpnessStep(total_steps=...)``), for rules that schedule by training progress.
    """

    def passes(self, step: int) -> int:
        """Number of forward/backward passes at this step (1 = plain step); the engine runs exactly
        these. A pure function of ``step`` and the rule's state (it may be asked twice)."""
        ...

    # Optional (the engine calls them when a rule defines them):
    #   prepare(param_info: Sequence[ParamInfo]) -> None: once, before the first step: what each
    #       parameter is (name, module type, role), e.g. to select tensors by role. Raise SharpregError
    #       when the model does not suit the rule.
    #   radius(ctx, e: list[Tensor]) -> float | Tensor: the size of the perturbation e = w' − w in the
    #       norm rho is measured in (the test kit checks that it equals ctx.rho).
    #   keeps_clean_grad = True: the rule holds g until the first perturbed pass has run, so the engine
    #       needs no copy of g for cos(g, g_p) (see sharpreg.engine.diagnostics).

    def ascent(self, ctx: StepContext, k: int) -> None:
        """Before pass ``k`` (k >= 1): write the perturbed weights into ``ctx.params`` in place
        (``ctx.backup`` holds w), set ``ctx.perturbation_norm``, release unneeded ``ctx.grads``."""
        ...

    def combine(self, ctx: StepContext) -> list[torch.Tensor]:
        """After the last pass (weights restored): return the final gradient, one tensor per
        parameter (may reuse the ``ctx.grads`` tensors)."""
        ...

    def post_step(self, ctx: StepContext) -> None:
        """After the base optimizer stepped (e.g. WSAM's decoupled term). May do nothing."""
        ...

    def state_dict(self) -> dict[str, Any]:
        """Plain data (tensors, numbers, lists, dicts) to checkpoint."""
        ...

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned."""
        ...


class BaseRule:
    """Convenient defaults for rule authors: a fixed number of passes, no post-step, no state.

    Subclasses set ``n_passes`` and implement ``ascent`` and ``combine``; ``self.config`` holds the
    rule's validated parameters (its ``Params`` model), ``ctx.params`` the tensors. A rule that skips
    passes overrides ``passes(step)`` (a pure function of the step and the rule's state: the engine may
    ask twice) and finds ``len(ctx.grads)`` passes in ``combine``.
    """

    n_passes: int = 2

    def __init__(self, config: Any) -> None:
        self.config = config
        self.param_info: tuple[ParamInfo, ...] = ()

    def prepare(self, param_info: Sequence[ParamInfo]) -> None:
        """Keep what each parameter is (``self.param_info``); override to select tensors by role."""
        self.param_info = tuple(param_info)

    def passes(self, step: int) -> int:
        return self.n_passes

    def ascent(self, ctx: StepContext, k: int) -> None:
        raise NotImplementedError

    def combine(self, ctx: StepContext) -> list[torch.Tensor]:
        raise NotImplementedError

    def post_step(self, ctx: StepContext) -> None:
        return None

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        return None


class PlainRule(BaseRule):
    """One pass with the clean gradient: the base optimizer alone (rule ``none``, the rho = 0 reference)."""

    n_passes = 1

    def ascent(self, ctx: StepContext, k: int) -> None:
        raise RuntimeError("a one-pass rule has no ascent")

    def combine(self, ctx: StepContext) -> list[torch.Tensor]:
        g = ctx.grads[0]
        assert g is not None
        return g


def sam_ascent(ctx: StepContext, sign: float = 1.0) -> float:
    """Write ``w + sign * rho * g / (‖g‖ + eps)`` into the parameters; returns the scale used.

    ``g`` is :meth:`StepContext.ascent_grads` (the clean gradient, plus weight decay when asked).
    Sets ``ctx.perturbation_norm``; the clean gradient's norm is cached for the diagnostics.
    """
    g = ctx.ascent_grads()
    norm = ctx.clean_grad_norm() if g is ctx.grads[0] else ops.global_norm(g)
    ctx.clean_grad_norm()
    n = float(norm)
    scale = ctx.rho / (n + ctx.eps)
    ops.write_perturbation(ctx.params, ctx.backup, g, sign * scale, at_backup=ctx.at_backup)
    ctx.at_backup = False
    ctx.perturbation_norm = scale * n
    return scale


def l2_radius(ctx: StepContext, e: Sequence[torch.Tensor]) -> torch.Tensor:
    """‖e‖₂ over all parameters: the radius of SAM and of every rule whose ascent is SAM's (a rule
    declares it as ``radius = staticmethod(l2_radius)``)."""
    return ops.global_norm(list(e))
