"""Test kits for plugin authors (also a pytest plugin: the ``sharpreg_check_*`` fixtures).

In a third-party package's tests::

    from sharpreg.testing import check_rule_spec
    from sharpreg_fisher_sam import FISHER_SPEC

    def test_fisher_sam_contract():
        check_rule_spec(FISHER_SPEC)                      # or with reference=my_float64_step

or, with the fixtures the installed plugin provides::

    def test_fisher_sam_contract(sharpreg_check_rule):
        sharpreg_check_rule(FISHER_SPEC)

Kits: :func:`check_rule_spec` (see ``sharpreg.testing.rules`` for its properties), :func:`check_metric_spec`,
:func:`check_loss_spec`, :func:`check_schedule_spec`, :func:`check_callback_spec`, :func:`check_model_spec`
and :func:`check_dataset_spec`. Docs: ``docs/writing-a-plugin.md``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .kinds import check_callback_spec, check_loss_spec, check_metric_spec, check_plugin_params, check_schedule_spec
from .models import check_dataset_spec, check_model_spec
from .problems import Problem, RefAdam, RefSGD, smooth_model, tiny_batches, tiny_model
from .rules import (Reference, check_ascent, check_determinism, check_effect, check_one_step, check_params,
                    check_radius, check_reference, check_rho_zero, check_rule_spec, check_state_roundtrip)

__all__ = [
    "Problem",
    "RefAdam",
    "RefSGD",
    "Reference",
    "check_ascent",
    "check_callback_spec",
    "check_dataset_spec",
    "check_determinism",
    "check_effect",
    "check_loss_spec",
    "check_metric_spec",
    "check_model_spec",
    "check_one_step",
    "check_params",
    "check_plugin_params",
    "check_radius",
    "check_reference",
    "check_rho_zero",
    "check_rule_spec",
    "check_schedule_spec",
    "check_state_roundtrip",
    "smooth_model",
    "tiny_batches",
    "tiny_model",
]


@pytest.fixture
def sharpreg_check_rule() -> Callable[..., list[str]]:
    """:func:`check_rule_spec`, as a fixture."""
    return check_rule_spec


@pytest.fixture
def sharpreg_check_metric() -> Callable[..., None]:
    """:func:`check_metric_spec`, as a fixture."""
    return check_metric_spec


@pytest.fixture
def sharpreg_check_loss() -> Callable[..., None]:
    """:func:`check_loss_spec`, as a fixture."""
    return check_loss_spec


@pytest.fixture
def sharpreg_check_schedule() -> Callable[..., None]:
    """:func:`check_schedule_spec`, as a fixture."""
    return check_schedule_spec


@pytest.fixture
def sharpreg_check_model() -> Callable[..., None]:
    """:func:`check_model_spec`, as a fixture."""
    return check_model_spec


@pytest.fixture
def sharpreg_check_dataset() -> Callable[..., None]:
    """:func:`check_dataset_spec`, as a fixture."""
    return check_dataset_spec
