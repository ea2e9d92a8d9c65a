"""``none``: one pass, the gradient at w: the baseline every sharpness rule is compared with."""

from __future__ import annotations

from typing import Any

import torch

from sharpreg.engine import StepContext
from sharpreg.specs import EngineParams


class NoneParams(EngineParams):
    """No radius: the base optimizer alone."""


class NoneRule:
    def __init__(self, params: NoneParams) -> None:
        self.params = params

    def passes(self, step: int) -> int:
        return 1

    def ascent(self, ctx: StepContext, k: int) -> None:  # never called: one pass
        raise RuntimeError("rule 'none' has no ascent")

    def combine(self, ctx: StepContext) -> list[torch.Tensor]:
        return ctx.grads[0]

    def post_step(self, ctx: StepContext) -> None:
        return None

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        return None
