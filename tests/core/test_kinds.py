"""The table of plugin kinds is the one source of hooks, recipe tables and CLI names."""

from __future__ import annotations

from sharpreg import hookspecs
from sharpreg.kinds import KINDS, kind_of, list_kinds, recipe_kinds
from sharpreg.recipe.validate import TOP_KEYS


def test_every_hook_belongs_to_one_kind_and_every_kind_has_a_hook() -> None:
    specified = {name for name in dir(hookspecs) if name.startswith("sharpreg_")
                 and hasattr(getattr(hookspecs, name), "sharpreg_spec")}
    assert specified == {k.hook_name for k in KINDS}
    assert len({k.name for k in KINDS}) == len({k.spec for k in KINDS}) == len(KINDS)
    for k in KINDS:
        assert k.spec.kind == k.name


def test_recipe_tables_and_cli_names_come_from_the_table() -> None:
    assert [k.table for k in recipe_kinds()] == ["data", "model", "optimizer", "sharpness", "loss"]
    assert [k.table for k in list_kinds()] == ["metrics", "callbacks"]
    assert set(TOP_KEYS) == {"schema_version", "requires", "meta", "train", "eval", "lock",
                             *(k.table for k in recipe_kinds()), *(k.table for k in list_kinds())}
    assert kind_of("sharpness") is kind_of("rules") is kind_of("rule")
    assert kind_of("data").name == "dataset"
    assert {k.name for k in KINDS if k.table is None} == {"schedule", "command", "recipe"}
