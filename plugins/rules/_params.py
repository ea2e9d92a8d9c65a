"""Shared parameter helpers of the first-party rules."""

from __future__ import annotations

from pydantic import Field, model_validator

from sharpreg.specs import RuleParams


class RadiusParams(RuleParams):
    """RuleParams with an upper bound on rho and rho_min <= rho."""

    rho: float = Field(0.05, ge=0.0, le=10.0, description="Perturbation radius rho (rho_max when rho_schedule = 'lr').")
    rho_min: float = Field(
        0.0, ge=0.0, le=10.0, description="Smallest radius when rho_schedule = 'lr' (GSAM's rho_min)."
    )
    eps: float = Field(1e-12, gt=0.0, le=1e-3, description="Added to norms before dividing (zero gradients).")

    @model_validator(mode="after")
    def _rho_min_below_rho(self) -> "RadiusParams":
        if self.rho_schedule_name() == "lr" and self.rho_min > self.rho:
            raise ValueError(f"rho_min ({self.rho_min}) must not exceed rho ({self.rho})")
        return self
