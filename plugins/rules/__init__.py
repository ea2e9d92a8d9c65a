"""First-party sharpness rules."""

from __future__ import annotations

from sharpreg import RuleSpec, hookimpl

from .none import NoneRule, NoneParams


@hookimpl
def sharpreg_sharpness_rules() -> list[RuleSpec]:
    return [
        RuleSpec("none", NoneParams, NoneRule, "The plain base optimizer through the same engine (one pass)."),
    ]
