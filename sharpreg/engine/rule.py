"""The contract between the step engine and a sharpness rule (DESIGN section 5).

A rule is tensor math only. The engine runs the forward/backward passes; between them it calls the
rule to write a perturbation (``ascent``) and, after the last pass, to combine the per-pass gradients
into the final gradient (``combine``). The engine restores the weights by copy, handles AMP, BatchNorm,
RNG replay, clipping, accumulation and DDP.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import torch


@dataclass
class StepContext:
    """Everything a rule may read or write during one step.

    ``params``: the trainable parameters (fixed order). ``grads[k]``: the gradient of pass ``k``
    (``grads[0]`` is the clean gradient g at w), one tensor per parameter, unscaled and, under
    DDP, already reduced as the engine's ``perturbation`` mode asks. ``backup``: the weights w
    before any perturbation (the engine restores from it). ``rho``: the radius for this step (after
    the schedule). ``lr``: the base optimizer's current learning rate (first group). ``state``:
    the rule's own persistent tensors (e.g. a momentum), saved in checkpoints by the rule.
    ``diagnostics``: rule-specific scalars to log (floats).
    """

    params: list[torch.Tensor]
    backup: list[torch.Tensor]
    grads: list[list[torch.Tensor]]
    rho: float
    lr: float
    step: int
    optimizer: torch.optim.Optimizer
    eps: float = 1e-12
    weight_decay: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    diagnostics: dict[str, float] = field(default_factory=dict)
    perturbation_norm: float = 0.0


@runtime_checkable
class SharpnessRule(Protocol):
    """What a ``RuleSpec.factory(params)`` returns."""

    def passes(self, step: int) -> int:
        """Number of forward/backward passes at this step (1 = plain step)."""
        ...

    def ascent(self, ctx: StepContext, k: int) -> None:
        """Before pass ``k`` (k >= 1): write the perturbed weights into ``ctx.params`` in place."""
        ...

    def combine(self, ctx: StepContext) -> list[torch.Tensor]:
        """After the last pass: return the final gradient (one tensor per parameter)."""
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
