"""Recipe packs: packages ship recipes through ``sharpreg_recipes``; sharpreg's own recipes register the same way."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from sharpreg.cli import main
from sharpreg.errors import PluginError, RecipeError
from sharpreg.recipe import load_recipe
from sharpreg.registry import Registry

from .conftest import make_dist

ROOT = Path(__file__).resolve().parents[2]

PACK = '''
from importlib import resources
from sharpreg import RecipeSpec, hookimpl


@hookimpl
def sharpreg_recipes():
    here = resources.files("{module}_data")
    return [RecipeSpec(name=name, resource=here / f"{{name}}.toml", summary=f"{{name}} from {dist}")
            for name in {names!r}]
'''


def make_pack(site: Path, dist: str, module: str, recipes: dict[str, str], listed: list[str] | None = None) -> None:
    """A distribution whose module registers recipes shipped as package data of ``<module>_data``."""
    make_dist(site, dist, "1.2", {module: module},
              {module: PACK.format(module=module, dist=dist, names=listed or sorted(recipes))})
    data = site / f"{module}_data"
    data.mkdir()
    (data / "__init__.py").write_text("")
    for name, text in recipes.items():
        (data / f"{name}.toml").write_text(text)


BASE = (ROOT / "recipes" / "quickstart.toml").read_text()


def test_sharpreg_ships_its_recipes_as_a_pack() -> None:
    reg = Registry.discover(strict=False)
    shipped = {p.spec.name: p for p in reg.all("recipe") if p.plugin.dist == "sharpreg"}
    files = sorted(f for f in [*ROOT.glob("recipes/*.toml"), *ROOT.glob("recipes/study/*.toml")]
                   if "schema_version" in tomllib.loads(f.read_text()))
    assert sorted(shipped) == sorted(f.stem for f in files)  # every recipe, no sweep grid
    assert shipped["quickstart"].spec.path.read_text() == BASE
    assert shipped["wsam_busi"].spec.summary == "WSAM + Adam, ResNet50, BUSI benign vs malignant"
    assert load_recipe("quickstart", registry=reg).name == load_recipe("sharpreg:quickstart", registry=reg).name


def test_a_recipe_extends_an_installed_one(tmp_path: Path) -> None:
    reg = Registry.discover(strict=False)
    mine = tmp_path / "mine.toml"
    mine.write_text('extends = "sharpreg:busi_base"\n[sharpness]\nname = "wsam"\nrho = 0.05\ngamma = 0.9\n')
    ours, shipped = load_recipe(mine, registry=reg).resolved(), load_recipe("wsam_busi", registry=reg).resolved()
    assert {k: v for k, v in ours.items() if k != "meta"} == {k: v for k, v in shipped.items() if k != "meta"}


def test_a_third_party_pack_runs_by_name_and_extends(site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    make_pack(site, "sharpreg-lab", "sr_test_pack", {"lab_base": BASE.replace("lr = 1e-3", "lr = 0.02")})
    reg = Registry.discover(strict=False)
    assert load_recipe("lab_base", registry=reg).optimizer.params.lr == 0.02
    child = tmp_path / "child.toml"
    child.write_text('extends = "sharpreg-lab:lab_base"\n[train]\nepochs = 2\n')
    recipe = load_recipe(child, registry=reg)
    assert (recipe.optimizer.params.lr, recipe.train.epochs) == (0.02, 2)
    monkeypatch.chdir(tmp_path)
    assert main(["recipes"]) == 0
    out = capsys.readouterr().out
    assert "lab_base" in out and "sharpreg-lab 1.2" in out and "quickstart" in out
    assert main(["check", "lab_base", "sharpreg-lab:lab_base"]) == 0
    # a file of that name wins over an installed recipe
    (tmp_path / "lab_base").write_text(BASE.replace("lr = 1e-3", "lr = 0.5"))
    assert load_recipe("lab_base", registry=reg).optimizer.params.lr == 0.5


def test_two_packs_with_one_name_must_be_told_apart(site: Path) -> None:
    make_pack(site, "sharpreg-one", "sr_test_pack1", {"busi_x": BASE})
    make_pack(site, "sharpreg-two", "sr_test_pack2", {"busi_x": BASE.replace("epochs = 12", "epochs = 3")})
    reg = Registry.discover(strict=False)
    with pytest.raises(RecipeError, match=r'provided by sharpreg-one 1.2 .* and sharpreg-two 1.2 .*"sharpreg-two:busi_x"'):
        load_recipe("busi_x", registry=reg)
    assert load_recipe("sharpreg-two:busi_x", registry=reg).train.epochs == 3


def test_a_pack_that_fails_to_load_is_one_clear_error(site: Path, capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    make_pack(site, "sharpreg-half", "sr_test_pack3", {"there": BASE}, listed=["there", "gone"])
    reg = Registry.discover(strict=False)
    assert [r.name for r in reg.broken()] == ["sr_test_pack3"]
    assert "its file gone.toml is missing from the package" in (reg.broken()[0].error or "")
    with pytest.raises(RecipeError, match="unknown recipe 'there'.*failed to load and may provide it: sr_test_pack3"):
        load_recipe("there", registry=reg)
    with pytest.raises(PluginError, match="sr_test_pack3.*gone.toml is missing"):
        Registry.discover(strict=True)
    monkeypatch.setenv("SHARPREG_STRICT_PLUGINS", "1")
    assert main(["recipes"]) == 2
    err = capsys.readouterr().err
    assert "gone.toml is missing from the package" in err


def test_an_unknown_name_without_a_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "quickstrat"]) == 2
    err = capsys.readouterr().err
    assert "quickstrat: no such recipe file, and unknown recipe 'quickstrat'; did you mean 'quickstart'?" in err
    assert main(["run", "recipes/quickstrat.toml"]) == 2
    assert "no such recipe file" in capsys.readouterr().err
