"""Property tests of the recipe loader and validator: arbitrary bytes, arbitrary TOML documents, arbitrary
edits of a valid recipe and arbitrary `--set` values end in a clean report (exit 2) or success (exit 0),
never in a traceback; a recipe that passes resolves to TOML that loads back to the same recipe."""

from __future__ import annotations

import contextlib
import io
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sharpreg.cli import main
from sharpreg.errors import RecipeError
from sharpreg.recipe import load_recipe
from sharpreg.study.grid import load_grid

from ..training.tiny import recipe_text

BASE = tomllib.loads(recipe_text(rule="none", epochs=1))
TABLES = ["meta", "data", "model", "optimizer", "sharpness", "train", "eval"]
WORDS = sorted({k for t in TABLES for k in BASE.get(t, {})} | set(TABLES) | {
    "schema_version", "requires", "extends", "name", "rho", "split", "augment", "classes", "root", "csv", "seed",
    "fold", "folds", "val", "test", "method", "lr", "momentum", "arch", "image_size", "channels", "accumulate",
    "clip_grad_norm", "min_lr", "precision", "monitor", "patience", "bootstrap", "confidence", "positive_class"})
NAMES = ["phantom", "image_folder", "busi", "breastmnist", "timm", "monai", "sgd", "adam", "adamw", "none", "sam",
         "asam", "gsam", "wsam", "crsam", "test_resnet", "stratified", "kfold", "predefined", "all", "fp16", "bf16",
         "cosine", "step", "auroc", "loss", "benign", "malignant", "normal", "sharpreg>=0.1", "nope>=1"]
SETTINGS = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

keys = st.one_of(st.sampled_from(WORDS), st.text(min_size=1, max_size=6))
scalars = st.one_of(st.integers(min_value=-(2**63), max_value=2**63 - 1), st.integers(-3, 40),
                    st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.sampled_from(NAMES),
                    st.text(max_size=12))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
                      max_leaves=8)
documents = st.dictionaries(keys, values, max_size=6)


def check(text: bytes, *overrides: str) -> int:
    """``sharpreg check`` of a file holding ``text``; the exit code (an exception fails the test)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "r.toml"
        path.write_bytes(text)
        sink = io.StringIO()
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            code = main(["check", str(path), *(f"--set={o}" for o in overrides)])
        assert code in (0, 2), sink.getvalue()
        if code == 0:
            round_trip(path, list(overrides))
        return code


def round_trip(path: Path, overrides: list[str]) -> None:
    """A valid recipe's resolved form (what resolved.toml holds, what `resume` reads) is the same recipe."""
    recipe = load_recipe(path, overrides)
    resolved = path.with_name("resolved.toml")
    resolved.write_text(tomli_w.dumps(recipe.resolved()), encoding="utf-8")
    assert load_recipe(resolved).resolved() == recipe.resolved()


@SETTINGS
@given(st.binary(max_size=400))
def test_arbitrary_bytes(data: bytes) -> None:
    check(data)


@SETTINGS
@given(documents)
def test_arbitrary_toml_documents(doc: dict[str, Any]) -> None:
    check(tomli_w.dumps(doc).encode())


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(TABLES), keys, values), min_size=1, max_size=4))
def test_arbitrary_edits_of_a_valid_recipe(edits: list[tuple[str, str, Any]]) -> None:
    doc = {k: dict(v) if isinstance(v, dict) else v for k, v in BASE.items()}
    for table, key, value in edits:
        doc.setdefault(table, {})
        if isinstance(doc[table], dict):
            doc[table][key] = value
    check(tomli_w.dumps(doc).encode())


@SETTINGS
@given(st.lists(st.one_of(st.text(max_size=30),
                          st.builds(lambda t, k, v: f"{t}.{k}={v}", st.sampled_from(TABLES), st.sampled_from(WORDS),
                                    st.one_of(st.text(max_size=15), values.map(lambda v: tomli_w.dumps({"v": v})[4:-1])))),
                max_size=3))
def test_arbitrary_set_values(overrides: list[str]) -> None:
    check(tomli_w.dumps(BASE).encode(), *overrides)


@SETTINGS
@given(st.one_of(st.binary(max_size=300), documents.map(lambda d: tomli_w.dumps(d).encode())))
def test_arbitrary_grid_files(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "grid.toml"
        path.write_bytes(data)
        try:
            load_grid(path, validate_recipes=False)
        except RecipeError:
            pass


def test_the_checker_is_not_blind() -> None:
    """The property holds because check reports problems, not because it accepts everything."""
    assert check(tomli_w.dumps(BASE).encode()) == 0
    assert check(b"\xff\xfe") == 2 and check(b"x = [") == 2
    assert check(tomli_w.dumps(BASE).encode(), "train.epochs=0") == 2
