"""Per-epoch summaries of the step engine's per-step diagnostics (``diag_*`` columns of ``metrics.csv``)."""

from __future__ import annotations

from typing import Any

import numpy as np

#: diagnostics whose spread within an epoch is recorded too
SPREAD = ("sharpness", "grad_norm")


def summarize_steps(values: dict[str, list[float]]) -> dict[str, float]:
    """Mean of each diagnostic over an epoch's steps, plus std and max of the sharpness and gradient norm."""
    out: dict[str, float] = {}
    for k, v in values.items():
        arr = np.asarray(v, dtype=np.float64)
        arr = arr[np.isfinite(arr)]
        if not len(arr):
            continue
        out[k] = float(arr.mean())
        if k in SPREAD:
            out[f"{k}_std"] = float(arr.std())
            out[f"{k}_max"] = float(arr.max())
    return out


def nanmean(values: list[Any]) -> float | None:
    """Mean of the finite numbers among ``values`` (None when there are none)."""
    arr = np.asarray([v for v in values if isinstance(v, (int, float))], dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    return float(arr.mean()) if len(arr) else None
