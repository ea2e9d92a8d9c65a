"""Grid files: a base recipe and the override sets of a sweep (a cartesian grid, zip axes and/or
explicit variants), expanded into runs.

```toml
recipe = "busi_cpu.toml"                  # base recipe, relative to this file
name = "busi-cpu"                         # sweep name (default: the file name)
baseline = "none"                         # method the paired tests compare against
workers = 2                               # parallel runs (--workers overrides)
threads = 1                               # torch threads per run (--threads overrides)

[set]                                     # fixed overrides for every run
"train.epochs" = 30

[grid]                                    # cartesian product of value lists
"data.split.fold" = [0, 1, 2, 3, 4]
"train.seed" = [0, 1]

[zip.model]                               # one axis: the lists pair element by element
"model.arch" = ["resnet10t", "vit_tiny_patch16_224"]
"optimizer.lr" = [1e-3, 5e-4]

[[variants]]                              # each variant is combined with every grid point
label = "sam"                             # the variant's part of the run id and its method name
"sharpness.name" = "sam"
"sharpness.rho" = 0.05
```

Keys are dotted recipe keys, quoted (``"sharpness.rho"``) or as TOML dotted keys (``sharpness.rho``).
``[tune]`` (``tuning.py``) chooses each variant's key hyper-parameter on validation first.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tomli_w

from ..errors import RecipeError, RecipeIssue
from ..paths import MAX_NAME
from ..recipe.loader import display
from .gridfile import DEFAULT_REPLICATE_KEYS, GridError, GridFile, Problems, grid_issues, read_grid_file

if TYPE_CHECKING:
    from .tuning import Tuning

__all__ = ["DEFAULT_REPLICATE_KEYS", "Combo", "Grid", "GridError", "load_grid", "toml_literal"]


@dataclass(frozen=True)
class Combo:
    """One run of the sweep: its id, its recipe overrides (dotted key -> value) and its variant's label."""

    id: str
    values: dict[str, Any]
    variant: str | None = None

    def overrides(self) -> list[str]:
        """The ``--set`` arguments of this run."""
        return [f"{k}={toml_literal(v)}" for k, v in self.values.items()]


@dataclass
class Grid:
    """A parsed grid file: base recipe, settings and the expanded runs."""

    path: Path
    config: GridFile
    recipe: Path
    combos: list[Combo] = field(default_factory=list)
    """the main runs (with ``[tune]``: before the tuned values are chosen)"""
    epochs: dict[str, int] = field(default_factory=dict)
    """planned epochs of each run (filled by validation)"""
    tuning: Tuning | None = None
    """the tuning runs and how they select, with ``[tune]``"""

    @property
    def name(self) -> str:
        return self.config.name or self.path.stem


def toml_literal(value: Any) -> str:
    """``value`` as a TOML literal for ``--set`` (strings quoted, arrays inline)."""
    text = tomli_w.dumps({"v": value})
    return text.split("=", 1)[1].strip()


def flatten(table: dict[str, Any], prefix: str = "", *, leaf: Any = None) -> dict[str, Any]:
    """Nested tables -> dotted keys; ``leaf(dict)`` true keeps that table as a value."""
    out: dict[str, Any] = {}
    for k, v in table.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict) and not (leaf and leaf(v)):
            out.update(flatten(v, key, leaf=leaf))
        else:
            out[key] = v
    return out


def slug(value: Any) -> str:
    text = str(value).lower()
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
        text = "m" + text[1:]  # -1.0 -> m1.0, distinct from 1.0
    return re.sub(r"[^a-z0-9.]+", "-", text).strip("-.") or "x"


def short(key: str) -> str:
    return key.rsplit(".", 1)[-1]


def run_id(values: dict[str, Any], varying: list[str], label: str | None = None) -> str:
    """Readable id from the varying keys, e.g. ``sam_resnet10t_seed0``; a variant label replaces its keys."""
    parts: list[str] = [slug(label)] if label else []
    for key in varying:
        if key not in values:
            continue
        value = values[key]
        if isinstance(value, bool):  # group_duplicates = false -> no-group-duplicates
            parts.append(("" if value else "no-") + slug(short(key)))
        else:
            parts.append(slug(value) if isinstance(value, str) else f"{slug(short(key))}{slug(value)}")
    text = "_".join(parts) or "run"
    if len(text) <= MAX_NAME:
        return text
    # a folder name has room for 255 bytes: a long value keeps its start and gets a digest of the whole id
    return f"{text[:MAX_NAME - 9].rstrip('-_.')}-{hashlib.sha1(text.encode()).hexdigest()[:8]}"


Variant = tuple[str | None, dict[str, Any]]
Axis = tuple[tuple[str, ...], list[tuple[Any, ...]]]
"""the keys of one axis of the product (one grid key, or the keys of a zip) and its value tuples"""


def _value_list(key: tuple[str, ...], values: Any, problems: Problems) -> bool:
    if not isinstance(values, list) or not values:
        problems.append((key, "must be a non-empty list of values"))
        return False
    if len({toml_literal(v) for v in values}) != len(values):
        problems.append((key, "repeats a value"))
        return False
    return True


def _zip_axes(config: GridFile, taken: set[str], problems: Problems) -> list[Axis]:
    """``[zip.NAME]`` tables: lists of one length, paired element by element."""
    axes: list[Axis] = []
    for name, table in config.zip.items():
        flat = flatten(table)
        if not flat:
            problems.append((("zip", name), "sets nothing"))
            continue
        lengths = {len(v) if isinstance(v, list) else -1 for v in flat.values()}
        if -1 in lengths or 0 in lengths or len(lengths) != 1:
            problems.append((("zip", name), "every key must hold a non-empty list, all of one length ("
                             + ", ".join(f"{k}: {len(v) if isinstance(v, list) else 'not a list'}" for k, v in flat.items())
                             + ")"))
            continue
        rows = list(zip(*flat.values()))
        for key, values in flat.items():
            if key in taken:
                problems.append((("zip", name, key), "is varied elsewhere in the grid"))
            taken.add(key)
        if len({toml_literal(list(r)) for r in rows}) != len(rows):
            problems.append((("zip", name), "repeats a row of values"))
        axes.append((tuple(flat), rows))
    return axes


def _factors(config: GridFile, problems: Problems) -> tuple[list[Axis], list[Variant]]:
    """The axes of the product (grid keys and zip tables) and the variants (label, dotted overrides)."""
    grid = flatten(config.grid)
    axes: list[Axis] = [((k,), [(v,) for v in values]) for k, values in grid.items()
                        if _value_list(("grid", k), values, problems)]
    axes += _zip_axes(config, set(grid), problems)
    varied = {k for keys, _ in axes for k in keys}
    variants: list[Variant] = []
    for i, var in enumerate(config.variants):
        var = dict(var)
        label = var.pop("label", None)
        if label is not None and (not isinstance(label, str) or not label):
            problems.append((("variants",), f"variant {i + 1}: label must be a non-empty string"))
        flat = flatten(var)
        if not flat:
            problems.append((("variants",), f"variant {i + 1} sets nothing"))
        clash = sorted(set(flat) & varied)
        if clash:
            problems.append((("variants",), f"variant {i + 1} sets {', '.join(clash)}, which the grid varies"))
        variants.append((label, flat))
    if not axes and not variants and not problems:
        problems.append(((), "the grid file has neither a [grid] table, a [zip] table nor [[variants]]: nothing to run"))
    return axes, variants


def _combos(fixed: dict[str, Any], axes: list[Axis], variants: list[Variant]) -> list[Combo]:
    """Every variant with every point of the product, each with a readable id (a zip axis is named by
    its first key's value)."""
    leads = [keys[0] for keys, _ in axes]
    variant_keys = sorted({k for _, v in variants for k in v if not _constant(k, variants)}, key=_key_order)
    combos: list[Combo] = []
    for variant_label, variant in variants or [(None, {})]:
        for point in itertools.product(*(rows for _, rows in axes)):
            values = {**fixed, **variant}
            for (keys, _), row in zip(axes, point):
                values.update(zip(keys, row))
            varying = ([] if variant_label else variant_keys) + leads
            varying.sort(key=_key_order)
            combos.append(Combo(run_id(values, varying, variant_label), values, variant_label))
    return combos


def load_grid(path: str | Path, *, validate_recipes: bool = True) -> Grid:
    """Read, validate and expand a grid file; every run's recipe is validated before anything runs."""
    from .tuning import expand_tuning

    path = Path(path)
    text, config = read_grid_file(path)
    recipe = (path.resolve().parent / config.recipe).resolve()
    problems: Problems = []
    if not recipe.is_file():
        problems.append((("recipe",), f"{config.recipe!r} not found (looked at {display(recipe)})"))
    axes, variants = _factors(config, problems)
    if problems:
        raise GridError(grid_issues(path, text, problems))
    combos = _combos(flatten(config.set), axes, variants)
    seen: dict[str, Combo] = {}
    for c in combos:
        if c.id in seen:
            raise GridError(grid_issues(path, text, [(("variants",), f"two runs get the id {c.id!r} ({seen[c.id].values} "
                                                      f"and {c.values}); give the variants distinct labels")]))
        seen[c.id] = c
    g = Grid(path=path, config=config, recipe=recipe, combos=combos)
    if config.tune is not None:
        g.tuning = expand_tuning(g, text)
    if validate_recipes:
        validate_combos(g)
    return g


def _constant(key: str, variants: list[Variant]) -> bool:
    values = {toml_literal(v.get(key)) if key in v else None for _, v in variants}
    return len(values) == 1 and len(variants) > 1 and None not in values


_ORDER = ("sharpness.name", "sharpness.", "model.arch", "model.", "optimizer.", "data.", "train.", "eval.")


def _key_order(key: str) -> tuple[int, str]:
    if key in ("data.split.fold", "train.seed"):  # replicates close the id: ..._fold0_seed1
        return (len(_ORDER) + (key == "train.seed"), key)
    for i, prefix in enumerate(_ORDER):
        if key == prefix or (prefix.endswith(".") and key.startswith(prefix)):
            return (i, key)
    return (len(_ORDER), key)


def validate_combos(grid: Grid) -> None:
    """Load every run's recipe (base + overrides) with the recipe loader and dry-run its first step as
    `check` does (once per distinct model, image size and batch); all problems at once. With ``[tune]``
    the tuning runs are loaded (every candidate value) and each main run with its first."""
    from ..recipe import load_recipe
    from ..training.probe import first_step_problem

    issues: list[RecipeIssue] = []
    seen: set[str] = set()
    probed: dict[str, RecipeError | None] = {}
    checked = [(c.id, c.overrides()) for c in grid.combos]
    if grid.tuning is not None:
        checked = grid.tuning.validation_runs(grid.combos)
    for rid, overrides in checked:
        try:
            recipe = load_recipe(grid.recipe, overrides)
            grid.epochs[rid] = recipe.train.epochs
            r = recipe.resolved()
            key = json.dumps([r["model"], r["data"], r["train"]["batch_size"], r["train"]["accumulate"]], sort_keys=True)
            if key not in probed:
                problem = first_step_problem(recipe)
                probed[key] = RecipeError([recipe.raw.issue(problem.key, problem.message)]) if problem else None
            if probed[key] is not None:
                raise probed[key]
        except RecipeError as exc:
            for issue in exc.issues:
                text = f"run {rid}: {issue}"
                if str(issue) not in seen:
                    seen.add(str(issue))
                    issues.append(RecipeIssue(display(grid.path), None, "", text))
    if issues:
        raise GridError(issues)
