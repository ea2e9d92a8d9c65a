"""``none``: one pass, the gradient at w: the baseline every sharpness rule is compared with."""

from __future__ import annotations

from sharpreg.engine import PlainRule
from sharpreg.specs import EngineParams


class NoneParams(EngineParams):
    """No radius: the base optimizer alone."""


class NoneRule(PlainRule):
    """The base optimizer through the same engine, so baselines differ from SAM runs in one thing."""

    config: NoneParams
