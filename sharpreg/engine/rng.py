"""Replaying the random state so dropout / DropPath draw the same masks in every pass.

The original JAX SAM reuses the random key for the perturbed pass; most PyTorch wrappers draw new
masks. With replay on, every pass starts from the RNG state the step started with, and after the last
pass the state is where one pass left it, so a step consumes randomness exactly like a plain step.
"""

from __future__ import annotations

import torch


class RngReplay:
    """Capture the CPU (and the current CUDA device's) RNG state; rewind and fast-forward."""

    def __init__(self, device_type: str) -> None:
        self.cuda = device_type == "cuda" and torch.cuda.is_available()
        self._start: tuple[torch.Tensor, torch.Tensor | None] | None = None
        self._after_first: tuple[torch.Tensor, torch.Tensor | None] | None = None

    def _get(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        return torch.get_rng_state(), (torch.cuda.get_rng_state() if self.cuda else None)

    @staticmethod
    def _set(state: tuple[torch.Tensor, torch.Tensor | None]) -> None:
        torch.set_rng_state(state[0])
        if state[1] is not None:
            torch.cuda.set_rng_state(state[1])

    def begin(self) -> None:
        """Before the first pass."""
        self._start = self._get()
        self._after_first = None

    def rewind(self) -> None:
        """Before a later pass: remember where the first pass ended, go back to the start."""
        if self._start is None:
            raise RuntimeError("RngReplay.begin() was not called")
        if self._after_first is None:
            self._after_first = self._get()
        self._set(self._start)

    def finish(self) -> None:
        """After the last pass: continue from where the first pass ended."""
        if self._after_first is not None:
            self._set(self._after_first)
        self._start = self._after_first = None
