"""The JSON Schema accepts exactly the recipes ``check`` accepts, including ``dist:name`` where two
distributions provide a name (the form ``check`` then requires) and not the bare name (which it rejects).

Each case is one change to the quick-start recipe; the schema (jsonschema) and ``check`` (validation
against the same registry) must give the same verdict. Rules between keys (pydantic validators) and
whether ``requires`` is installed are ``check``'s alone, so the cases do not test those.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import tomli_w
import tomllib

from sharpreg.errors import RecipeError
from sharpreg.recipe import load_recipe
from sharpreg.recipe.schema import recipe_schema
from sharpreg.registry import Registry

from .conftest import make_dist, rule_plugin

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = tomllib.loads((ROOT / "recipes" / "quickstart.toml").read_text())
FP = "sha256:" + "ab" * 32


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    keys = path.split(".")

    def change(recipe: dict[str, Any]) -> None:
        node = recipe
        for k in keys[:-1]:
            node = node.setdefault(k, {})
        node[keys[-1]] = value
    return change


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    keys = path.split(".")

    def change(recipe: dict[str, Any]) -> None:
        node = recipe
        for k in keys[:-1]:
            node = node[k]
        del node[keys[-1]]
    return change


# (case id, change, check accepts it)
CASES: list[tuple[str, Callable[[dict[str, Any]], None], bool]] = [
    ("as shipped", lambda r: None, True),
    ("bare unique name", _set("sharpness.name", "sam"), True),
    ("dist:name", _set("sharpness.name", "sharpreg:sam"), True),
    ("dist:name, other spelling", _set("sharpness.name", "SharpReg:sam"), True),
    ("plugin:name", _set("sharpness.name", "rules:sam"), True),
    ("wrong dist", _set("sharpness.name", "sharpreg-fisher:sam"), False),
    ("not installed", _set("sharpness.name", "nobody:sam"), False),
    ("empty dist", _set("sharpness.name", ":sam"), False),
    ("empty name", _set("sharpness.name", "sharpreg:"), False),
    ("upper-case name", _set("sharpness.name", "SAM"), False),
    ("two colons", _set("sharpness.name", "a:sharpreg:sam"), False),
    ("not a string", _set("sharpness.name", 5), False),
    ("clashing bare name", _set("sharpness.name", "fisher_sam"), False),
    ("clashing, first dist", _set("sharpness.name", "sharpreg-fisher:fisher_sam"), True),
    ("clashing, second dist", _set("sharpness.name", "sharpreg_fisher2:fisher_sam"), True),
    ("clashing, its parameter", lambda r: r.update(sharpness={"name": "sharpreg-fisher:fisher_sam", "boost": 2.0}), True),
    ("clashing, bad parameter", lambda r: r.update(sharpness={"name": "sharpreg-fisher:fisher_sam", "boost": -1}), False),
    ("unique third-party name", _set("sharpness.name", "only_here"), True),
    ("parameter of another plugin", _set("sharpness.rho", 0.1), False),
    ("bound", _set("optimizer.lr", -1.0), False),
    ("unknown key", _set("model.depth", 3), False),
    ("unknown table", _set("trian", {"epochs": 1}), False),
    ("no schema_version", _drop("schema_version"), False),
    ("other schema_version", _set("schema_version", 2), False),
    ("no data table", _drop("data"), False),
    ("no sharpness table (default none)", _drop("sharpness"), True),
    ("no name", _drop("model.name"), False),
    ("requires not a list", _set("requires", "sharpreg>=0.1"), False),
    ("data fingerprint", _set("data.fingerprint", FP), True),
    ("malformed fingerprint", _set("data.fingerprint", "sha256:abc"), False),
    ("lock", _set("lock", {"distributions": {"sharpreg": "0.1.0"}, "data_fingerprint": FP,
                           "split_file": "busi.split.json"}), True),
    ("lock, split file elsewhere", _set("lock", {"split_file": "../busi.split.json"}), False),
    ("lock, unknown key", _set("lock", {"wheels": 3}), False),
    ("split method", _set("data.split.method", "kfold"), True),
    ("unknown split method", _set("data.split.method", "random"), False),
    ("unlisted option", _set("data.split.unlisted", "train"), True),
]


@pytest.fixture
def registry(site: Path) -> Registry:
    make_dist(site, "sharpreg-fisher", "0.3.1", {"fisher": "sr_test_eq_a"},
              {"sr_test_eq_a": rule_plugin("fisher_sam", "sharpreg-fisher")})
    make_dist(site, "sharpreg_fisher2", "1.0", {"fisher2": "sr_test_eq_b"},
              {"sr_test_eq_b": rule_plugin("fisher_sam", "sharpreg_fisher2")})
    make_dist(site, "sharpreg-only", "1.0", {"only": "sr_test_eq_c"},
              {"sr_test_eq_c": rule_plugin("only_here", "sharpreg-only")})
    return Registry.discover(strict=False)


def test_schema_and_check_give_the_same_verdicts(registry: Registry, tmp_path: Path) -> None:
    validator = jsonschema.Draft202012Validator(recipe_schema(registry))
    verdicts = []
    for n, (case, change, expected) in enumerate(CASES):
        recipe = copy.deepcopy(QUICKSTART)
        change(recipe)
        file = tmp_path / f"case{n}.toml"
        file.write_text(tomli_w.dumps(recipe))
        try:
            load_recipe(file, registry=registry)
            checked = True
        except RecipeError:
            checked = False
        schema = not list(validator.iter_errors(recipe))
        verdicts.append((case, checked, schema))
        assert checked == expected, f"{case}: check {'accepts' if checked else 'rejects'} it"
    assert [v for v in verdicts if v[1] != v[2]] == []


def test_a_child_recipe_needs_no_tables(registry: Registry) -> None:
    """A recipe that extends another is validated after merging; the schema asks for no table in it."""
    validator = jsonschema.Draft202012Validator(recipe_schema(registry))
    assert not list(validator.iter_errors({"extends": "sharpreg:quickstart", "optimizer": {"lr": 0.01}}))
    assert list(validator.iter_errors({"optimizer": {"lr": 0.01}}))
