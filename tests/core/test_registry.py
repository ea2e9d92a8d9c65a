"""Plugin discovery: entry points, broken plugins, conflicts, dist:name, disabling, provenance."""

from __future__ import annotations

import importlib.metadata as md
import re
from pathlib import Path

import pytest
from pydantic import Field

from sharpreg import PluginParams, RuleSpec, hookimpl
from sharpreg.errors import PluginError
from sharpreg.registry import Registry, set_default_registry

from .conftest import make_dist, rule_plugin


def test_first_party_plugins_come_through_entry_points() -> None:
    eps = {ep.name: ep for ep in md.entry_points(group="sharpreg")}
    assert {"optimizers", "rules", "timm", "phantom"} <= set(eps)
    assert all(ep.dist is not None and ep.dist.name == "sharpreg" for ep in eps.values())
    reg = Registry.discover(strict=False)
    assert reg.get("optimizer", "adam").plugin.dist == "sharpreg"
    assert reg.get("rule", "none").plugin.name == "rules"
    assert {"sgd", "adam", "adamw"} <= set(reg.names("optimizer"))


def test_third_party_distribution_is_discovered(site: Path) -> None:
    make_dist(site, "sharpreg-fisher", "0.3.1", {"fisher": "sr_test_fisher"},
              {"sr_test_fisher": rule_plugin("fisher_sam", "sharpreg-fisher")})
    reg = Registry.discover(strict=False)
    provided = reg.get("rule", "fisher_sam")
    assert provided.provenance() == {
        "kind": "rule", "name": "fisher_sam", "plugin": "fisher",
        "distribution": "sharpreg-fisher", "version": "0.3.1", "module": "sr_test_fisher",
    }
    assert provided.spec.params(boost=2.0).boost == 2.0


def test_broken_plugin_is_recorded_and_others_keep_working(site: Path) -> None:
    make_dist(site, "sharpreg-broken", "1.0", {"broken": "sr_test_broken"},
              {"sr_test_broken": "raise ImportError('needs libfoo 9')\n"})
    make_dist(site, "sharpreg-good", "1.0", {"good": "sr_test_good"}, {"sr_test_good": rule_plugin("good_sam", "g")})
    reg = Registry.discover(strict=False)
    assert reg.get("rule", "good_sam").plugin.dist == "sharpreg-good"
    broken = {r.name: r for r in reg.broken()}
    assert "broken" in broken and "needs libfoo 9" in (broken["broken"].error or "")
    with pytest.raises(PluginError, match=r"unknown rule 'fancy_sam'.*sharpreg-broken 1.0"):
        reg.get("rule", "fancy_sam")


def test_strict_mode_makes_a_broken_plugin_fatal(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_dist(site, "sharpreg-broken", "1.0", {"broken": "sr_test_broken2"},
              {"sr_test_broken2": "raise RuntimeError('boom')\n"})
    monkeypatch.setenv("SHARPREG_STRICT_PLUGINS", "1")
    only_this = [ep for ep in md.entry_points(group="sharpreg") if ep.dist and ep.dist.name == "sharpreg-broken"]
    with pytest.raises(PluginError, match="broken.*boom"):
        Registry.discover(entry_points=only_this)
    monkeypatch.setenv("SHARPREG_STRICT_PLUGINS", "0")
    assert Registry.discover(entry_points=only_this).broken()[0].name == "broken"


def test_hook_returning_garbage_marks_plugin_broken(site: Path) -> None:
    code = "from sharpreg import hookimpl\n@hookimpl\ndef sharpreg_sharpness_rules():\n    return ['not a spec']\n"
    make_dist(site, "sharpreg-bad", "0.1", {"bad": "sr_test_bad"}, {"sr_test_bad": code})
    reg = Registry.discover(strict=False)
    (rec,) = [r for r in reg.records if r.name == "bad"]
    assert rec.status == "broken" and "not a RuleSpec" in (rec.error or "")


def test_conflict_names_both_distributions_and_dist_prefix_picks_one(site: Path) -> None:
    make_dist(site, "sharpreg-alpha", "1.0", {"alpha": "sr_test_alpha"}, {"sr_test_alpha": rule_plugin("dup_sam", "alpha")})
    make_dist(site, "sharpreg-beta", "2.5", {"beta": "sr_test_beta"}, {"sr_test_beta": rule_plugin("dup_sam", "beta")})
    reg = Registry.discover(strict=False)
    with pytest.raises(PluginError) as info:
        reg.get("rule", "dup_sam")
    assert "sharpreg-alpha 1.0" in str(info.value) and "sharpreg-beta 2.5" in str(info.value)
    assert reg.get("rule", "sharpreg-beta:dup_sam").plugin.version == "2.5"
    assert reg.get("rule", "sharpreg_alpha:dup_sam").plugin.version == "1.0"
    with pytest.raises(PluginError, match="provided by"):
        reg.get("rule", "sharpreg-gamma:dup_sam")
    assert len(reg.conflicts()) == 1


def test_disable_by_env_and_first_party_only(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_dist(site, "sharpreg-extra", "1.0", {"extra": "sr_test_extra"}, {"sr_test_extra": rule_plugin("extra_sam", "e")})
    monkeypatch.setenv("SHARPREG_DISABLE_PLUGINS", "extra, timm")
    reg = Registry.discover(strict=False)
    status = {r.name: r.status for r in reg.records}
    assert status["extra"] == "disabled" and status["timm"] == "disabled"
    with pytest.raises(PluginError, match="Disabled plugins: .*extra"):
        reg.get("rule", "extra_sam")
    monkeypatch.delenv("SHARPREG_DISABLE_PLUGINS")
    only = Registry.discover(strict=False, first_party_only=True)
    assert "extra_sam" not in only.names("rule") and "adam" in only.names("optimizer")


def test_unknown_name_suggests_near_names() -> None:
    reg = Registry.discover(strict=False)
    with pytest.raises(PluginError, match=r"did you mean 'adam'.*Installed optimizers: .*adamw"):
        reg.get("optimizer", "adma")


def test_spec_validation_rejects_bad_specs() -> None:
    class Loose(PluginParams):
        model_config = {"extra": "allow"}

    class Good(PluginParams):
        x: int = Field(1, description="x")

    with pytest.raises(ValueError, match="lower-case"):
        RuleSpec("FancySAM", Good, object, "s")
    with pytest.raises(TypeError, match="forbid extra"):
        RuleSpec("loose", Loose, object, "s")
    with pytest.raises(ValueError, match="one non-empty line"):
        RuleSpec("ok", Good, object, "two\nlines")


def test_from_plugins_without_entry_points() -> None:
    class Plugin:
        @staticmethod
        @hookimpl
        def sharpreg_sharpness_rules():
            from sharpreg_plugins.rules.none import NoneParams, NoneRule

            return [RuleSpec("mine", NoneParams, NoneRule, "a rule")]

    reg = Registry.from_plugins(Plugin)
    assert reg.names("rule") == ["mine"]
    assert reg.names("optimizer") == []


MISSPELLED = "from sharpreg import hookimpl\n@hookimpl\ndef sharpreg_rules():\n    return []\n"
UNMARKED = rule_plugin("quiet_sam", "q").replace("@hookimpl\n", "")
EMPTY = "import math\n"


@pytest.mark.parametrize("code,why", [
    (MISSPELLED, "sharpreg_rules is not a sharpreg hook; did you mean sharpreg_.*rules"),
    (UNMARKED, "sharpreg_sharpness_rules lacks @hookimpl"),
    (EMPTY, "it registers nothing"),
], ids=["misspelled hook", "no hookimpl", "empty module"])
def test_a_plugin_that_would_silently_do_nothing_is_broken_and_fatal_in_strict_mode(site: Path, code: str, why: str) -> None:
    make_dist(site, "sharpreg-quiet", "1.0", {"quiet": "sr_test_quiet"}, {"sr_test_quiet": code})
    only = [ep for ep in md.entry_points(group="sharpreg") if ep.dist and ep.dist.name == "sharpreg-quiet"]
    (rec,) = Registry.discover(entry_points=only, strict=False).records
    assert rec.status == "broken" and re.search(why, rec.error or "")
    with pytest.raises(PluginError, match=why):
        Registry.discover(entry_points=only, strict=True)


def test_strict_cli_exits_2_on_a_plugin_that_registers_nothing(site: Path, monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture) -> None:
    from sharpreg.cli import main

    make_dist(site, "sharpreg-quiet", "1.0", {"quiet": "sr_test_quiet2"}, {"sr_test_quiet2": MISSPELLED})
    monkeypatch.setenv("SHARPREG_STRICT_PLUGINS", "1")
    assert main(["list", "rules"]) == 2
    err = capsys.readouterr().err
    assert "sharpreg_rules is not a sharpreg hook" in err and "Traceback" not in err
    set_default_registry(None)
    monkeypatch.delenv("SHARPREG_STRICT_PLUGINS")
    assert main(["plugins"]) == 0
    assert "broken" in capsys.readouterr().out


def test_unknown_names_in_disable_are_reported(site: Path, monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    monkeypatch.setenv("SHARPREG_DISABLE_PLUGINS", "nosuch,timm")
    with caplog.at_level("WARNING", logger="sharpreg.plugins"):
        reg = Registry.discover(strict=False)
    assert reg.warnings and "names nosuch, which no installed plugin is called" in reg.warnings[0]
    assert "timm" not in reg.warnings[0].split("called;")[0] and "nosuch" in caplog.text
    with pytest.raises(PluginError, match="names nosuch"):
        Registry.discover(strict=True)
