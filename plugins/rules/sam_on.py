"""SAM-ON (Mueller, Vlaar, Rolnick, Hein, NeurIPS 2023): the SAM (or ASAM) perturbation of the
normalization layers' parameters only; every other tensor stays at w during the perturbed pass. The
base step uses the whole gradient at w + e.

The tensors are the parameters with role ``norm`` (the gains and shifts of BatchNorm, LayerNorm,
GroupNorm, ... layers, found by module type; the official code selects names containing 'norm' or 'bn').
``adaptive = true`` is ASAM-ON: T = |w| + eta on the gains (and on the shifts with ``normalize_bias``), as
the official ``elementwise`` option; rho is then measured by ‖T⁻¹ e‖.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from pydantic import Field

from sharpreg.engine import BaseRule, ParamInfo, StepContext
from sharpreg.errors import SharpregError

from ._adaptive import adaptive_ascent, adaptive_radius
from ._params import RadiusParams


class SAMONParams(RadiusParams):
    """SAM-ON: the official script's defaults are rho 0.5 and eta 0 (its README example, ASAM-ON on
    CIFAR-100, uses rho 10 with normalize_bias). Perturbing fewer tensors takes a larger rho than SAM."""

    rho: float = Field(0.5, ge=0.0, le=100.0, description="Perturbation radius rho, over the normalization parameters.")
    adaptive: bool = Field(False, description="ASAM-ON: scale the perturbation element-wise by T = |w| + eta.")
    eta: float = Field(0.0, ge=0.0, le=1.0, description="Added to |w| in T = |w| + eta (adaptive only).")
    normalize_bias: bool = Field(
        False, description="With adaptive: scale the normalization shifts (biases) by T too, not only the gains."
    )


class SAMON(BaseRule):
    n_passes = 2

    def __init__(self, config: SAMONParams) -> None:
        super().__init__(config)
        self._norm: list[int] = []
        self._scaled: list[int] = []

    def prepare(self, param_info: Sequence[ParamInfo]) -> None:
        super().prepare(param_info)
        info = self.param_info
        self._norm = [i for i, p in enumerate(info) if p.role == "norm"]
        if not self._norm:
            raise SharpregError("sam_on perturbs normalization layers, and this model has no trainable "
                                "BatchNorm/LayerNorm/GroupNorm parameters; choose another rule (e.g. sam)")
        cfg = self.config
        self._scaled = [i for i in self._norm if cfg.adaptive and ("weight" in info[i].leaf or cfg.normalize_bias)]

    def ascent(self, ctx: StepContext, k: int) -> None:
        adaptive_ascent(ctx, self._norm, self._scaled, self.config.eta)

    def radius(self, ctx: StepContext, e: Sequence[torch.Tensor]) -> torch.Tensor:
        return adaptive_radius(ctx, e, self._norm, self._scaled, self.config.eta)

    def combine(self, ctx: StepContext) -> list[torch.Tensor]:
        gp = ctx.grads[1]
        assert gp is not None
        return gp
