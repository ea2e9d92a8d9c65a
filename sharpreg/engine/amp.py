"""Mixed precision for a multi-pass step.

``torch.amp.GradScaler`` assumes one backward per optimizer step: ``unscale_`` may run once per step,
``step(closure=...)`` raises, and its found-inf bookkeeping lives in per-optimizer state. A sharpness
step has several backward passes whose gradients must be read (unscaled) between them. The
:class:`LossScaler` below is GradScaler's dynamic loss scaling (same defaults, same fused kernels
``_amp_foreach_non_finite_check_and_unscale_`` and ``_amp_update_scale_``) arranged for that: each
pass's gradient is unscaled exactly once, right after its backward (the scale is a power of two, so
unscaling is exact), non-finite values are detected in the same kernel, and the scale is updated once
per step. A step with any non-finite pass is skipped by the engine (weights untouched) and counted.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch

PRECISIONS = ("fp32", "bf16", "fp16")


def autocast(precision: str, device_type: str) -> contextlib.AbstractContextManager[Any]:
    """The autocast context for a precision (``nullcontext`` for fp32)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device_type, dtype=dtype)


class LossScaler:
    """Dynamic loss scaling (GradScaler's algorithm) with per-pass unscaling."""

    def __init__(
        self,
        device: torch.device | str,
        init_scale: float = 2.0**16,
        growth_factor: float = 2.0,
        backoff_factor: float = 0.5,
        growth_interval: int = 2000,
    ) -> None:
        self.device = torch.device(device)
        self.growth_factor = growth_factor
        self.backoff_factor = backoff_factor
        self.growth_interval = growth_interval
        self.scale_t = torch.full((), init_scale, dtype=torch.float32, device=self.device)
        self.growth_tracker = torch.zeros((), dtype=torch.int32, device=self.device)
        self.found_inf = torch.zeros((), dtype=torch.float32, device=self.device)

    def scale(self, loss: torch.Tensor) -> torch.Tensor:
        return loss * self.scale_t.to(loss.dtype)

    def begin_step(self) -> None:
        self.found_inf.zero_()

    def unscale_(self, grads: list[torch.Tensor]) -> None:
        """Unscale one pass's gradients in place and record non-finite values."""
        inv = self.scale_t.double().reciprocal().float()
        by_dtype: dict[torch.dtype, list[torch.Tensor]] = {}
        for g in grads:
            by_dtype.setdefault(g.dtype, []).append(g)
        for group in by_dtype.values():
            torch._amp_foreach_non_finite_check_and_unscale_(group, self.found_inf, inv)

    def overflowed(self) -> bool:
        return bool(self.found_inf.item())

    def update(self) -> None:
        """Grow or back off the scale once per step (after all passes)."""
        torch._amp_update_scale_(
            self.scale_t,
            self.growth_tracker,
            self.found_inf,
            self.growth_factor,
            self.backoff_factor,
            self.growth_interval,
        )

    def get_scale(self) -> float:
        return float(self.scale_t.item())

    def state_dict(self) -> dict[str, Any]:
        return {
            "scale": float(self.scale_t.item()),
            "growth_tracker": int(self.growth_tracker.item()),
            "growth_factor": self.growth_factor,
            "backoff_factor": self.backoff_factor,
            "growth_interval": self.growth_interval,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.scale_t.fill_(float(state["scale"]))
        self.growth_tracker.fill_(int(state["growth_tracker"]))
        self.growth_factor = float(state["growth_factor"])
        self.backoff_factor = float(state["backoff_factor"])
        self.growth_interval = int(state["growth_interval"])
