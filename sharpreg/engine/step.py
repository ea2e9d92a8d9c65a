"""The multi-pass sharpness step (first slice: plain passes; see issue 3 for the full engine)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .rule import SharpnessRule, StepContext

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class StepOutput:
    """Result of one optimizer step."""

    loss: float
    """mean clean-pass loss over the micro-batches"""
    logits: torch.Tensor | None
    """clean-pass outputs, detached, concatenated over micro-batches"""
    skipped: bool = False
    passes: int = 1
    diagnostics: dict[str, float] = field(default_factory=dict)


class SharpnessStep:
    """Runs one step of ``rule`` around ``optimizer`` for ``model``."""

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        rule: SharpnessRule,
        params: Any,
        *,
        precision: str = "fp32",
        clip_grad_norm: float | None = None,
        lr_range: tuple[float, float] | None = None,
    ) -> None:
        self.model = model
        self.optimizer = optimizer
        self.rule = rule
        self.params_cfg = params
        self.precision = precision
        self.clip_grad_norm = clip_grad_norm
        self.lr_range = lr_range
        self.params = [p for g in optimizer.param_groups for p in g["params"] if p.requires_grad]
        self.step_count = 0
        self.skipped_steps = 0

    def step(self, micro_batches: Sequence[tuple[torch.Tensor, torch.Tensor]], loss_fn: LossFn) -> StepOutput:
        n_passes = self.rule.passes(self.step_count)
        ctx = StepContext(
            params=self.params,
            backup=[p.detach().clone() for p in self.params] if n_passes > 1 else [],
            grads=[],
            rho=float(getattr(self.params_cfg, "rho", 0.0)),
            lr=float(self.optimizer.param_groups[0]["lr"]),
            step=self.step_count,
            optimizer=self.optimizer,
        )
        total = sum(len(t) for _, t in micro_batches)
        clean_loss, logits = 0.0, []
        for k in range(n_passes):
            if k > 0:
                with torch.no_grad():
                    self.rule.ascent(ctx, k)
            for p in self.params:
                p.grad = None
            for x, y in micro_batches:
                out = self.model(x)
                loss = loss_fn(out, y)
                (loss * (len(y) / total)).backward()
                if k == 0:
                    clean_loss += float(loss.detach()) * len(y) / total
                    logits.append(out.detach())
                else:
                    pass
            ctx.grads.append([p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p) for p in self.params])
        with torch.no_grad():
            if n_passes > 1:
                torch._foreach_copy_(self.params, ctx.backup)
            final = self.rule.combine(ctx)
            for p, g in zip(self.params, final):
                p.grad = g
        if self.clip_grad_norm:
            torch.nn.utils.clip_grad_norm_(self.params, self.clip_grad_norm)
        self.optimizer.step()
        with torch.no_grad():
            self.rule.post_step(ctx)
        self.step_count += 1
        return StepOutput(loss=clean_loss, logits=torch.cat(logits), passes=n_passes, diagnostics=dict(ctx.diagnostics))

    def state_dict(self) -> dict[str, Any]:
        return {
            "optimizer": self.optimizer.state_dict(),
            "rule": self.rule.state_dict(),
            "step_count": self.step_count,
            "skipped_steps": self.skipped_steps,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.rule.load_state_dict(state["rule"])
        self.step_count = int(state["step_count"])
        self.skipped_steps = int(state["skipped_steps"])
