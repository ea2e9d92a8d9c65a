"""Randomized sharpness-aware training, RST (Zhao, Zhang, Hu, 2022): each step is a SAM step with
probability p_t, otherwise a plain base step (one pass).

Following the paper: an independent Bernoulli trial per iteration chooses between the base optimizer
and SAM, with a probability given by a scheduling function of the training progress; the SAM step is
SAM's (e = rho g/‖g‖, the base step with ∇L(w + e)). sharpreg offers two schedules: ``constant``
(p_t = p) and ``linear`` (p_t moves from ``p_start`` at the first step to ``p`` at the end of the
run, which the engine learns from ``SharpnessStep(total_steps=...)``; the trainer passes it). The
paper's generalized variant (G-RST) is not implemented.

The draw of step t is a pure function of (seed, t) (numpy's counter-based ``SeedSequence``), so it
never touches torch's or numpy's global generators (dropout and augmentation streams stay as in any
other run), two runs from one seed draw alike and a resumed run draws exactly what the uninterrupted
one would. ``seed`` defaults to torch's seed when the rule is built (``train.seed`` in a run); it is
the rule's whole random state and is checkpointed. Under DDP every rank must use the same seed.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch
from pydantic import Field

from sharpreg.engine import BaseRule, StepContext, l2_radius, sam_ascent
from sharpreg.errors import SharpregError

from ._params import RadiusParams


class RSTParams(RadiusParams):
    """RST: p = 0.5 halves SAM's extra cost; rho as sharpreg's SAM (0.05)."""

    p: float = Field(
        0.5, ge=0.0, le=1.0, description="Probability of a SAM step (with schedule = 'linear', at the end of the run)."
    )
    schedule: Literal["constant", "linear"] = Field(
        "constant", description="'constant': p at every step; 'linear': from p_start at the first step to p at the last."
    )
    p_start: float = Field(0.0, ge=0.0, le=1.0, description="Probability at the first step (schedule = 'linear').")
    seed: int | None = Field(
        None, ge=0, le=2**63 - 1, description="Seed of the draws; default: torch's seed when the rule is built (train.seed)."
    )


class RST(BaseRule):
    config: RSTParams
    radius = staticmethod(l2_radius)  # ‖e‖ = rho on its SAM steps

    def __init__(self, config: RSTParams) -> None:
        super().__init__(config)
        self.seed = int(config.seed if config.seed is not None else torch.initial_seed() % 2**63)
        self.total_steps: int | None = None
        self._last: tuple[int, int] = (-1, 0)

    def set_total_steps(self, total_steps: int) -> None:
        """The run's planned number of optimizer steps (for the linear schedule)."""
        self.total_steps = int(total_steps)

    def probability(self, step: int) -> float:
        """p_t of step ``step`` (0-based)."""
        p = self.config
        if p.schedule == "constant":
            return p.p
        if not self.total_steps:
            raise SharpregError(
                "rule rst with schedule = 'linear' needs the run's length: pass SharpnessStep(total_steps=...) "
                "(sharpreg run does)"
            )
        progress = min(1.0, step / max(1, self.total_steps - 1))
        return p.p_start + (p.p - p.p_start) * progress

    def passes(self, step: int) -> int:
        if self._last[0] != step:
            u = np.random.default_rng([self.seed, step]).random()
            self._last = (step, 2 if u < self.probability(step) else 1)
        return self._last[1]

    def ascent(self, ctx: StepContext, k: int) -> None:
        sam_ascent(ctx)
        ctx.grads[0] = None  # as SAM: g is no longer needed

    def combine(self, ctx: StepContext) -> list[torch.Tensor]:
        ctx.diagnostics["sam_probability"] = self.probability(ctx.step)
        final = ctx.grads[-1]
        assert final is not None
        return final

    def state_dict(self) -> dict[str, Any]:
        return {"seed": self.seed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "seed" in state:
            self.seed = int(state["seed"])
            self._last = (-1, 0)
