"""Every first-party rule passes the kit third-party authors use."""

from __future__ import annotations

import pytest
from pydantic import Field

import sharpreg_plugins.rules as first_party
from sharpreg.testing import check_rule_spec

SPECS = {s.name: s for s in first_party.sharpreg_sharpness_rules()}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_first_party_rule_passes_the_kit(name):
    check_rule_spec(SPECS[name])


def test_wsam_coupled_passes_the_kit():
    import dataclasses

    spec = SPECS["wsam"]

    class Coupled(spec.params):  # type: ignore[misc, valid-type]
        decoupled: bool = Field(False, description="coupled WSAM")

    check_rule_spec(dataclasses.replace(spec, params=Coupled))


def test_fixture_is_provided_by_the_plugin(sharpreg_check_rule):
    assert sharpreg_check_rule is check_rule_spec


def test_every_rule_parameter_is_bounded_and_described():
    for spec in SPECS.values():
        for name, f in spec.params.model_fields.items():
            assert f.description, (spec.name, name)
            if f.annotation in (float, int):
                bounds = {type(m).__name__ for m in f.metadata}
                assert bounds & {"Ge", "Gt"} and bounds & {"Le", "Lt"}, (spec.name, name, bounds)
