"""Fixtures for the core: throwaway distributions with entry points on a temporary sys.path."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from sharpreg.registry import set_default_registry

PLUGIN_TEMPLATE = '''
from pydantic import Field
from sharpreg import RuleParams, RuleSpec, hookimpl


class Params(RuleParams):
    boost: float = Field(1.0, gt=0, description="a test parameter")


class Rule:
    def __init__(self, config):
        self.config = config
    def passes(self, step): return 1
    def ascent(self, ctx, k): raise RuntimeError
    def combine(self, ctx): return ctx.grads[0]
    def post_step(self, ctx): return None
    def state_dict(self): return {{}}
    def load_state_dict(self, state): return None


@hookimpl
def sharpreg_sharpness_rules():
    return [RuleSpec({name!r}, Params, Rule, "test rule from {dist}")]
'''


def make_dist(site: Path, dist: str, version: str, entry_points: dict[str, str], modules: dict[str, str]) -> None:
    """Write ``<dist>-<version>.dist-info`` with ``entry_points.txt`` and the given modules into ``site``."""
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    eps = "[sharpreg]\n" + "".join(f"{k} = {v}\n" for k, v in entry_points.items())
    (info / "entry_points.txt").write_text(eps)
    for name, code in modules.items():
        (site / f"{name}.py").write_text(textwrap.dedent(code))


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary folder on sys.path (and PYTHONPATH for subprocesses) for throwaway distributions."""
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setenv("PYTHONPATH", str(folder))
    monkeypatch.delenv("SHARPREG_STRICT_PLUGINS", raising=False)
    monkeypatch.delenv("SHARPREG_DISABLE_PLUGINS", raising=False)
    set_default_registry(None)
    yield folder
    for mod in [m for m in sys.modules if m.startswith("sr_test_")]:
        del sys.modules[mod]
    set_default_registry(None)


def rule_plugin(name: str, dist: str) -> str:
    return PLUGIN_TEMPLATE.format(name=name, dist=dist)
