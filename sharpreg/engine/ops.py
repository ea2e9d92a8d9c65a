"""Foreach tensor-list arithmetic shared by the engine and the rules."""

from __future__ import annotations

from collections.abc import Sequence

import torch

TensorList = Sequence[torch.Tensor]


def acc_dtype(tensors: TensorList) -> torch.dtype:
    """Accumulation dtype for reductions: float64 for float64 lists, else float32."""
    return torch.float64 if tensors and tensors[0].dtype == torch.float64 else torch.float32


def global_norm(tensors: TensorList) -> torch.Tensor:
    """L2 norm over a list of tensors, as a 0-dim tensor (fp32, fp64 for fp64 lists; no host sync);
    half-precision tensors are summed in fp32."""
    if not tensors:
        return torch.zeros(())
    dt = acc_dtype(tensors)
    norms = torch._foreach_norm(list(tensors), 2, dtype=dt)
    return torch.linalg.vector_norm(torch.stack(norms))


def dot(a: TensorList, b: TensorList) -> torch.Tensor:
    """Sum over the list of the element-wise products (a 0-dim tensor; reductions, no buffers)."""
    if not a:
        return torch.zeros(())
    dt = acc_dtype(a)
    parts = [torch.vdot(x.reshape(-1).to(dt), y.reshape(-1).to(dt)) for x, y in zip(a, b)]
    return torch.stack(parts).sum()


def write_perturbation(
    params: list[torch.Tensor],
    backup: list[torch.Tensor],
    direction: list[torch.Tensor],
    scale: float,
    *,
    at_backup: bool = False,
) -> None:
    """``params = backup + scale * direction`` without a temporary list.

    ``at_backup``: the parameters already equal ``backup`` (true before the first ascent of a step),
    so one fused add suffices. A scale of zero leaves ``params`` bit-identical to ``backup``.
    """
    if not at_backup:
        torch._foreach_copy_(params, backup)
    torch._foreach_add_(params, direction, alpha=scale)


def cosine(a_dot_b: torch.Tensor, a_norm: torch.Tensor, b_norm: torch.Tensor, eps: float) -> torch.Tensor:
    """cos(a, b) from a dot product and two norms."""
    return a_dot_b / (a_norm * b_norm + eps)


def tensor_bytes(tensors: TensorList | None) -> int:
    """Bytes held by a list of tensors."""
    return sum(t.numel() * t.element_size() for t in tensors or [])
