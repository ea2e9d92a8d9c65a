"""The base of every plugin's parameter model (re-exported by ``sharpreg.specs``): unknown keys are
errors and numbers are finite and fit a float32."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

#: largest magnitude of a number in a recipe: tensors are float32, and torch cannot convert a larger one
FLOAT32_MAX = 3.4028234663852886e38


def within_float32(value: Any) -> Any:
    """``value`` (a number or a list of them) when every float in it fits a float32 tensor."""
    items = value if isinstance(value, (list, tuple)) else (value,)
    if any(isinstance(x, float) and abs(x) > FLOAT32_MAX for x in items):
        raise ValueError(f"is too large: at most {FLOAT32_MAX:.3g} in magnitude (tensors hold float32)")
    return value


class PluginParams(BaseModel):
    """Base of every plugin's parameter model: unknown keys are errors, values are checked, numbers are
    finite (``inf`` and ``nan`` never pass)."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False)

    @field_validator("*")
    @classmethod
    def _fits_float32(cls, value: Any) -> Any:
        return within_float32(value)
