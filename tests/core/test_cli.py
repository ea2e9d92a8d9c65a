"""The CLI end to end: check, show, describe, list, plugins, schema, init, run (quick start)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import tomllib

from sharpreg.cli import main
from sharpreg.recipe.schema import recipe_schema
from sharpreg.registry import Registry, set_default_registry

from .conftest import make_dist

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "recipes" / "quickstart.toml"
TINY = ["train.epochs=1", "data.per_class=12", "data.image_size=24", "data.native_size=32", "train.batch_size=8", "model.arch=resnet10t"]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sharpreg.cli", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(autouse=True)
def _fresh_registry() -> None:
    set_default_registry(None)
    yield
    set_default_registry(None)


def test_check_reports_all_problems_exit_2_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(QUICKSTART.read_text().replace('name = "adam"', 'name = "adma"').replace("epochs = 12", "epochs = 0"))
    res = cli("check", str(bad), str(QUICKSTART))
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert "optimizer.name: unknown optimizer 'adma'; did you mean 'adam'" in res.stderr
    assert "train.epochs: Input should be greater than or equal to 1" in res.stderr
    assert "quickstart.toml: data phantom, model timm, optimizer adam, sharpness none" in res.stdout


def test_run_with_bad_recipe_is_one_clear_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(QUICKSTART.read_text().replace("lr = 1e-3", "lr = -1"))
    assert main(["run", str(bad), "--runs-dir", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert "the recipe has 1 problem" in err and "optimizer.lr: Input should be greater than 0" in err
    assert not (tmp_path / "runs").exists()  # nothing created for a wrong recipe
    assert main(["run", str(tmp_path / "missing.toml")]) == 2
    assert "no such recipe file" in capsys.readouterr().err


def test_run_with_missing_data_leaves_no_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHARPREG_DATA", raising=False)
    recipe = tmp_path / "busi.toml"
    recipe.write_text(QUICKSTART.read_text().replace('name = "phantom"', 'name = "busi"')
                      .replace("per_class = 120\n", ""))
    out = tmp_path / "run"
    assert main(["run", str(recipe), "--out", str(out), "--no-progress"]) == 2
    assert "set data.root in the recipe or the environment variable SHARPREG_DATA" in capsys.readouterr().err
    assert not out.exists()


def test_show_resolved_fills_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", str(QUICKSTART), "--resolved", "--set", "optimizer.lr=0.5"]) == 0
    data = tomllib.loads(capsys.readouterr().out)
    assert data["optimizer"] == {"name": "adam", "lr": 0.5, "weight_decay": 0.0, "no_decay_norm_bias": False,
                                 "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "amsgrad": False}
    assert data["schema_version"] == 1 and data["train"]["epochs"] == 12


def test_describe_and_list(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    assert main(["describe", "optimizer", "adam"]) == 0
    out = capsys.readouterr().out
    assert "beta2" in out and "Second-moment decay" in out and "0.999" in out
    assert main(["describe", "dataset", "phantom"]) == 0
    out = capsys.readouterr().out
    assert "per_class" in out and "SplitParams" in out and ">= 4" in out
    assert main(["list", "optimizers"]) == 0
    assert "adamw" in capsys.readouterr().out
    assert main(["describe", "rule", "smа"]) == 2  # Cyrillic 'а': unknown, near names listed
    assert "unknown rule" in capsys.readouterr().err


def test_third_party_plugin_in_cli_and_broken_plugin_does_not_take_it_down(site: Path, tmp_path: Path) -> None:
    from .conftest import rule_plugin

    make_dist(site, "sharpreg-fisher", "0.3.1", {"fisher": "sr_test_cli_fisher"},
              {"sr_test_cli_fisher": rule_plugin("fisher_sam", "sharpreg-fisher")})
    make_dist(site, "sharpreg-crash", "0.1", {"crash": "sr_test_cli_crash"},
              {"sr_test_cli_crash": "import nonexistent_module_xyz\n"})
    res = cli("plugins", "--json")
    assert res.returncode == 0, res.stderr
    records = {r["name"]: r for r in json.loads(res.stdout)["plugins"]}
    assert records["fisher"]["provides"] == {"rule": ["fisher_sam"]} and records["fisher"]["version"] == "0.3.1"
    assert records["crash"]["status"] == "broken" and "nonexistent_module_xyz" in records["crash"]["error"]
    recipe = tmp_path / "fisher.toml"
    recipe.write_text(QUICKSTART.read_text().replace('[sharpness]\nname = "none"', '[sharpness]\nname = "fisher_sam"\nboost = 2.0'))
    res = cli("check", str(recipe))
    assert res.returncode == 0, res.stderr
    res = cli("--no-plugins", "check", str(recipe))
    assert res.returncode == 2 and "unknown rule 'fisher_sam'" in res.stderr and "Disabled plugins: " in res.stderr


def test_schema_accepts_good_and_rejects_bad_recipes(tmp_path: Path) -> None:
    schema = recipe_schema(Registry.discover(strict=False))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    good = tomllib.loads(QUICKSTART.read_text())
    assert list(validator.iter_errors(good)) == []
    bad = tomllib.loads(QUICKSTART.read_text())
    bad["sharpness"]["rho"] = 0.1  # rule 'none' has no radius
    bad["optimizer"]["lr"] = -1
    bad["data"]["name"] = "nope"
    messages = sorted(e.message for e in validator.iter_errors(bad))
    assert any("-1 is less than or equal to the minimum of 0" in m for m in messages)
    assert any("'nope' is not valid under any of the given schemas" in m for m in messages)
    assert any("'rho' was unexpected" in m for m in messages)
    assert main(["schema", "-o", str(tmp_path / "s.json")]) == 0
    assert json.loads((tmp_path / "s.json").read_text())["title"] == "sharpreg recipe"


def test_init_writes_a_valid_starter(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "new.toml"
    assert main(["init", str(target)]) == 0
    assert target.read_text().startswith("#:schema ./recipe.schema.json\n")
    assert (tmp_path / "recipe.schema.json").is_file()
    assert main(["init", str(target)]) == 2  # never overwritten silently
    assert "already exists" in capsys.readouterr().err
    from sharpreg.recipe import load_recipe

    reg = Registry.discover(strict=False)
    if "sam" in reg.names("rule"):
        assert load_recipe(target, registry=reg).sharpness.name == "sam"


@pytest.mark.slow
def test_quickstart_run_leaves_its_run_folder(tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = cli("run", str(QUICKSTART), "--out", str(out), "--no-progress", *[a for s in TINY for a in ("--set", s)])
    assert res.returncode == 0, res.stderr[-3000:]
    for name in ("recipe.toml", "resolved.toml", "overrides.toml", "environment.json", "metrics.csv",
                 "summary.json", "log.txt", "split.json", "events.jsonl"):
        assert (out / name).is_file(), name
    assert (out / "recipe.toml").read_text() == QUICKSTART.read_text()
    assert tomllib.loads((out / "overrides.toml").read_text())["train"]["epochs"] == 1
    env = json.loads((out / "environment.json").read_text())
    assert {p["table"]: p["distribution"] for p in env["plugins"]} == {
        "data": "sharpreg", "model": "sharpreg", "optimizer": "sharpreg", "sharpness": "sharpreg", "loss": "sharpreg"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["epochs_run"] == 1 and 0.0 <= summary["test"]["accuracy"] <= 1.0
    assert "test set" in res.stdout + res.stderr
    # the same folder is never overwritten
    again = cli("run", str(QUICKSTART), "--out", str(out), *[a for s in TINY for a in ("--set", s)])
    assert again.returncode == 2 and "already exists" in again.stderr


def test_committed_schema_is_current() -> None:
    """recipes/*.toml point editors at ../recipe.schema.json; it must match the first-party plugins."""
    fresh = recipe_schema(Registry.discover(strict=False, first_party_only=True))
    committed = json.loads((ROOT / "recipe.schema.json").read_text())
    assert committed == json.loads(json.dumps(fresh)), "regenerate: sharpreg --no-plugins schema -o recipe.schema.json"


SHIPPED = sorted(p for p in (ROOT / "recipes").rglob("*.toml") if "schema_version" in tomllib.loads(p.read_text()))


@pytest.mark.parametrize("recipe", SHIPPED, ids=lambda p: p.name)
def test_shipped_recipes_validate(recipe: Path) -> None:
    """Every recipe in recipes/ passes validation and the JSON Schema (sweep grids: tests/study)."""
    data = tomllib.loads(recipe.read_text())
    from sharpreg.recipe import load_recipe

    reg = Registry.discover(strict=False, first_party_only=True)
    load_recipe(recipe, registry=reg)
    validator = jsonschema.Draft202012Validator(recipe_schema(reg))
    assert [e.message for e in validator.iter_errors(data)] == []
