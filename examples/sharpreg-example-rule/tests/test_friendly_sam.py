"""The example package's own test: sharpreg's test kit does the work."""

from sharpreg_example_rule import SPEC


def test_friendly_sam_meets_the_rule_contract(sharpreg_check_rule):
    sharpreg_check_rule(SPEC)
