"""The worked example package (examples/sharpreg-example) as a third party would ship it: a ``*.dist-info``
with its declared entry points on a temporary ``sys.path``; its plugins pass the kits, its own tests pass."""

from __future__ import annotations

import importlib
import sys
import tomllib
from pathlib import Path

import pytest

from sharpreg.registry import Registry
from sharpreg.testing import check_loss_spec, check_metric_spec, check_rule_spec

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sharpreg-example"


@pytest.fixture
def installed_example(tmp_path, monkeypatch):
    meta = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]
    dist = tmp_path / f"{meta['name'].replace('-', '_')}-{meta['version']}.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {meta['name']}\nVersion: {meta['version']}\n")
    eps = meta["entry-points"]["sharpreg"]
    (dist / "entry_points.txt").write_text("[sharpreg]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(EXAMPLE))
    importlib.invalidate_caches()
    yield meta
    for name in [m for m in sys.modules if m.startswith("sharpreg_example")]:
        sys.modules.pop(name, None)


def test_registry_discovers_the_example_and_its_plugins_pass_the_kits(installed_example):
    reg = Registry.discover(strict=True)
    rules = {n: reg.get("rule", n) for n in ("friendly_sam", "sam_no_norm")}
    assert {p.plugin.dist for p in rules.values()} == {"sharpreg-example"}
    assert rules["friendly_sam"].plugin.version == installed_example["version"]
    for provided in rules.values():
        assert provided.spec.citation
        check_rule_spec(provided.spec)
    check_metric_spec(reg.get("metric", "sens_at_spec").spec)
    check_loss_spec(reg.get("loss", "poly1").spec)


def test_the_example_packages_own_tests_pass(installed_example):
    assert pytest.main(["-q", "-p", "no:cacheprovider", str(EXAMPLE / "tests")]) == 0


def test_the_example_ships_a_recipe_that_extends_sharpregs(installed_example):
    from sharpreg.recipe import load_recipe

    reg = Registry.discover(strict=True)
    assert reg.get("recipe", "friendly_busi").plugin.dist == "sharpreg-example"
    recipe = load_recipe("sharpreg-example:friendly_busi", registry=reg)
    assert (recipe.sharpness.name, recipe.model.params.arch, recipe.optimizer.name) == ("friendly_sam", "resnet50", "adam")
    assert recipe.pinned()["sharpness"]["name"] == "sharpreg-example:friendly_sam"


def test_the_kit_catches_a_broken_rule(installed_example):
    """The kit can fail: a rule that ignores rho is not the base optimizer at rho = 0."""
    import dataclasses

    from sharpreg_example.friendly_sam import SPEC, FriendlySAM

    class NoRadius(FriendlySAM):
        def ascent(self, ctx, k):
            ctx.rho = 0.5
            super().ascent(ctx, k)

    with pytest.raises(AssertionError, match="rho = 0"):
        check_rule_spec(dataclasses.replace(SPEC, factory=NoRadius))
