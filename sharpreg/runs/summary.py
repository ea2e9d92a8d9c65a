"""``summary.json``: what a finished run reports."""

from __future__ import annotations

import math
from typing import Any


def finite_or_none(values: dict[str, Any]) -> dict[str, Any]:
    """NaN (an undefined metric) as None, which JSON can hold."""
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in values.items()}
