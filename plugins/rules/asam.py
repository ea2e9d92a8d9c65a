"""ASAM (Kwon et al., ICML 2021): T_w = |w| + eta; e = rho T_w² g / (‖T_w g‖ + eps), so that ‖T_w⁻¹ e‖ = rho.

Which tensors T_w scales (the others use T = 1) is ``scope``:

* ``official`` (default): every parameter whose own name contains ``weight``: convolution and linear
  kernels, the gains of normalization layers, embedding tables; not biases, not normalization shifts,
  not tensors such as ``pos_embed``. The official code (SamsungLabs/ASAM) tests ``'weight' in name`` on
  the qualified name; sharpreg tests the tensor's own name, which differs only where a module's name
  contains "weight". Its settings: eta 0.01, rho 0.5 (CIFAR-10) to 1.0 (CIFAR-100).
* ``weights_only``: the kernels of layers and embedding tables (roles ``weight`` and ``embedding``);
  normalization gains use T = 1. Until sharpreg knew parameter roles this scope selected tensors with
  ndim >= 2, which is the same set for convolution/linear networks.
* ``all``: every tensor, biases included, usually with eta = 0 (a popular re-implementation); rho then
  means something else (2.0 there for what is 0.5 above).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from pydantic import Field

from sharpreg.engine import BaseRule, ParamInfo, StepContext

from ._adaptive import adaptive_ascent, adaptive_radius
from ._params import RadiusParams


class ASAMParams(RadiusParams):
    """ASAM: rho 0.5 and eta 0.01 (the official CIFAR-10 setting), scope as the official code."""

    rho: float = Field(0.5, ge=0.0, le=10.0, description="Perturbation radius rho (in the T_w-scaled geometry).")
    eta: float = Field(0.01, ge=0.0, le=1.0, description="Added to |w| in T_w = |w| + eta.")
    scope: Literal["official", "weights_only", "all"] = Field(
        "official",
        description="Which tensors T_w scales: 'official' (every parameter named weight: kernels, "
        "normalization gains, embedding tables; as the official code), 'weights_only' (layer kernels and "
        "embedding tables, not normalization gains) or 'all' (every tensor, usually with eta = 0).",
    )


def scaled_indices(info: Sequence[ParamInfo], scope: str) -> list[int]:
    """The tensors T_w scales under ``scope``."""
    if scope == "all":
        return list(range(len(info)))
    if scope == "weights_only":
        return [i for i, p in enumerate(info) if p.role in ("weight", "embedding")]
    return [i for i, p in enumerate(info) if "weight" in p.leaf]


class ASAM(BaseRule):
    n_passes = 2

    def __init__(self, config: ASAMParams) -> None:
        super().__init__(config)
        self._scaled: list[int] = []

    def prepare(self, param_info: Sequence[ParamInfo]) -> None:
        super().prepare(param_info)
        self._scaled = scaled_indices(self.param_info, self.config.scope)

    def ascent(self, ctx: StepContext, k: int) -> None:
        adaptive_ascent(ctx, range(len(ctx.params)), self._scaled, self.config.eta)

    def radius(self, ctx: StepContext, e: Sequence[torch.Tensor]) -> torch.Tensor:
        return adaptive_radius(ctx, e, range(len(ctx.params)), self._scaled, self.config.eta)

    def combine(self, ctx: StepContext) -> list[torch.Tensor]:
        gp = ctx.grads[1]
        assert gp is not None
        return gp
