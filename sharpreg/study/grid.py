"""Grid files: a base recipe and the override sets of a sweep (a cartesian grid and/or explicit variants).

```toml
recipe = "busi_cpu.toml"                  # base recipe, relative to this file
name = "busi-cpu"                         # sweep name (default: the file name)
baseline = "none"                         # sharpness.name the paired tests compare against
workers = 2                               # parallel runs (--workers overrides)
threads = 1                               # torch threads per run (--threads overrides)

[set]                                     # fixed overrides for every run
"train.epochs" = 30

[grid]                                    # cartesian product of value lists
"model.arch" = ["resnet10t", "vit_tiny_patch16_224"]
"train.seed" = [0, 1, 2]

[[variants]]                              # each variant is combined with every grid point
label = "sam"                             # optional: the variant's part of the run id
"sharpness.name" = "sam"
"sharpness.rho" = 0.05
```

Keys are dotted recipe keys, quoted (``"sharpness.rho"``) or as TOML dotted keys (``sharpness.rho``).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import RecipeError, RecipeIssue
from ..paths import MAX_NAME, name_problem
from ..specs import MAX_SEED
from ..recipe.lines import find_line, index_lines
from ..recipe.loader import display, parse_toml, read_text
from .cluster import SlurmConfig

#: keys whose values are replicates (seeds), not factors, in the report
DEFAULT_REPLICATE_KEYS = ("train.seed",)


class MeasureConfig(BaseModel):
    """``[measure]``: after each run, ``sharpreg sharpness RUN`` with these options."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    samples: int = Field(128, ge=1, description="Training images to measure on.")
    iters: int = Field(10, ge=1, description="Power iterations at most.")
    probes: int = Field(5, ge=1, description="Hutchinson probe vectors.")
    points: int = Field(11, ge=2, description="Points of the 1-D loss slice.")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="Seed of the subset and the random vectors.")

    def args(self) -> list[str]:
        return [a for k, v in self.model_dump().items() for a in (f"--{k}", str(v))]


class GridFile(BaseModel):
    """The validated content of a grid file."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    recipe: str = Field(min_length=1, description="Base recipe, relative to the grid file.")
    name: str = Field("", description="Sweep name (the folder sweeps/<name>); default the grid file's name.")
    description: str = Field("", description="What the sweep is for.")
    baseline: str = Field("none", min_length=1, description="sharpness.name of the baseline of the paired tests.")
    replicates: list[str] = Field(list(DEFAULT_REPLICATE_KEYS), description="Keys that are seeds (paired on).")
    workers: int = Field(1, ge=1, le=256, description="Parallel runs on this machine.")
    threads: int = Field(1, ge=1, le=256, description="torch threads per run.")
    estimate: str = Field("", description="Free text: measured cost of the sweep.")
    set: dict[str, Any] = Field(default_factory=dict, description="Overrides applied to every run.")
    grid: dict[str, Any] = Field(default_factory=dict, description="Cartesian product of value lists.")
    variants: list[dict[str, Any]] = Field(default_factory=list, description="Explicit override sets.")
    slurm: SlurmConfig = Field(default_factory=SlurmConfig)
    measure: MeasureConfig | None = Field(None, description="Measure each trained run's sharpness.")

    @field_validator("name")
    @classmethod
    def _folder_name(cls, value: str) -> str:
        problem = name_problem(value) if value else None
        if problem:
            raise ValueError(f"{problem}: it names the sweep's folder; use a plain name such as 'busi-cpu'")
        return value


@dataclass(frozen=True)
class Combo:
    """One run of the sweep: its id and its recipe overrides (dotted key -> value)."""

    id: str
    values: dict[str, Any]

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
    epochs: dict[str, int] = field(default_factory=dict)
    """planned epochs of each run (filled by validation)"""

    @property
    def name(self) -> str:
        return self.config.name or self.path.stem


def toml_literal(value: Any) -> str:
    """``value`` as a TOML literal for ``--set`` (strings quoted, arrays inline)."""
    text = tomli_w.dumps({"v": value})
    return text.split("=", 1)[1].strip()


def flatten(table: dict[str, Any], prefix: str = "", *, leaf_lists: bool = False) -> dict[str, Any]:
    """Nested tables -> dotted keys. With ``leaf_lists`` a list is a leaf (grid value lists)."""
    out: dict[str, Any] = {}
    for k, v in table.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict):
            out.update(flatten(v, key, leaf_lists=leaf_lists))
        else:
            out[key] = v
    return out


def _slug(value: Any) -> str:
    text = str(value).lower()
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
        text = "m" + text[1:]  # -1.0 -> m1.0, distinct from 1.0
    return re.sub(r"[^a-z0-9.]+", "-", text).strip("-.") or "x"


def _short(key: str) -> str:
    return key.rsplit(".", 1)[-1]


def run_id(values: dict[str, Any], varying: list[str], label: str | None = None) -> str:
    """Readable id from the varying keys, e.g. ``sam_resnet10t_seed0``; a variant label replaces its keys."""
    parts: list[str] = [_slug(label)] if label else []
    for key in varying:
        if key not in values:
            continue
        value = values[key]
        if isinstance(value, bool):  # group_duplicates = false -> no-group-duplicates
            parts.append(("" if value else "no-") + _slug(_short(key)))
        else:
            parts.append(_slug(value) if isinstance(value, str) else f"{_slug(_short(key))}{_slug(value)}")
    text = "_".join(parts) or "run"
    if len(text) <= MAX_NAME:
        return text
    # a folder name has room for 255 bytes: a long value keeps its start and gets a digest of the whole id
    return f"{text[:MAX_NAME - 9].rstrip('-_.')}-{hashlib.sha1(text.encode()).hexdigest()[:8]}"


class GridError(RecipeError):
    """Problems in a grid file (reported like recipe problems: file:line key: message)."""


def _issues(path: Path, text: str, problems: list[tuple[tuple[str, ...], str]]) -> list[RecipeIssue]:
    lines = index_lines(text)
    shown = display(path)
    out = []
    for key, msg in problems:
        line = None
        if key:  # a quoted dotted key ("model.arch") or TOML dotted keys (model.arch)
            split = tuple(p for part in key for p in part.split("."))
            line = lines.get(key) or lines.get(split) or find_line(lines, key)
        out.append(RecipeIssue(shown, line, ".".join(key), msg))
    return out


Problems = list[tuple[tuple[str, ...], str]]
Variant = tuple[str | None, dict[str, Any]]


def _read(path: Path) -> tuple[str, GridFile]:
    """The grid file's text and its validated content."""
    shown = display(path)
    try:
        text = read_text(path, shown, "grid")
        raw = parse_toml(text, shown)
    except RecipeError as exc:
        raise GridError(exc.issues) from None
    try:
        return text, GridFile.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            loc = tuple(str(x) for x in err["loc"])
            msg = {"extra_forbidden": "unknown key; known keys: " + ", ".join(GridFile.model_fields),
                   "missing": "required key is missing"}.get(err["type"], err["msg"])
            if err["type"] == "extra_forbidden" and loc[:1] in (("slurm",), ("measure",)):
                model = SlurmConfig if loc[0] == "slurm" else MeasureConfig
                msg = "unknown key; known keys: " + ", ".join(model.model_fields)
            problems.append((loc, msg))
        raise GridError(_issues(path, text, problems)) from None


def _factors(config: GridFile, problems: Problems) -> tuple[dict[str, list[Any]], list[Variant]]:
    """The grid's value lists and the variants (label, dotted overrides), with their problems."""
    grid = flatten(config.grid, leaf_lists=True)
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            problems.append((("grid", key), "must be a non-empty list of values"))
        elif len({toml_literal(v) for v in values}) != len(values):
            problems.append((("grid", key), "repeats a value"))
    variants: list[Variant] = []
    for i, var in enumerate(config.variants):
        var = dict(var)
        label = var.pop("label", None)
        if label is not None and (not isinstance(label, str) or not label):
            problems.append((("variants",), f"variant {i + 1}: label must be a non-empty string"))
        flat = flatten(var)
        if not flat:
            problems.append((("variants",), f"variant {i + 1} sets nothing"))
        clash = sorted(set(flat) & set(grid))
        if clash:
            problems.append((("variants",), f"variant {i + 1} sets {', '.join(clash)}, which the grid varies"))
        variants.append((label, flat))
    if not grid and not variants:
        problems.append(((), "the grid file has neither a [grid] table nor [[variants]]: nothing to run"))
    return grid, variants


def _combos(fixed: dict[str, Any], grid: dict[str, list[Any]], variants: list[Variant]) -> list[Combo]:
    """Every variant with every grid point, each with a readable id."""
    grid_keys = list(grid)
    variant_keys = sorted({k for _, v in variants for k in v if not _constant(k, variants)}, key=_key_order)
    combos: list[Combo] = []
    for variant_label, variant in variants or [(None, {})]:
        for point in itertools.product(*(grid[k] for k in grid_keys)):
            values = {**fixed, **variant, **dict(zip(grid_keys, point))}
            varying = ([] if variant_label else variant_keys) + grid_keys
            varying.sort(key=_key_order)
            combos.append(Combo(run_id(values, varying, variant_label), values))
    return combos


def load_grid(path: str | Path, *, validate_recipes: bool = True) -> Grid:
    """Read, validate and expand a grid file; every run's recipe is validated before anything runs."""
    path = Path(path)
    text, config = _read(path)
    recipe = (path.resolve().parent / config.recipe).resolve()
    problems: Problems = []
    if not recipe.is_file():
        problems.append((("recipe",), f"{config.recipe!r} not found (looked at {display(recipe)})"))
    grid, variants = _factors(config, problems)
    if problems:
        raise GridError(_issues(path, text, problems))
    combos = _combos(flatten(config.set), grid, variants)
    seen: dict[str, Combo] = {}
    for c in combos:
        if c.id in seen:
            raise GridError(_issues(path, text, [(("variants",), f"two runs get the id {c.id!r} ({seen[c.id].values} and "
                                                  f"{c.values}); give the variants distinct labels")]))
        seen[c.id] = c
    g = Grid(path=path, config=config, recipe=recipe, combos=combos)
    if validate_recipes:
        validate_combos(g)
    return g


def _constant(key: str, variants: list[Variant]) -> bool:
    values = {toml_literal(v.get(key)) if key in v else None for _, v in variants}
    return len(values) == 1 and len(variants) > 1 and None not in values


_ORDER = ("sharpness.name", "sharpness.", "model.arch", "model.", "optimizer.", "data.", "train.", "eval.")


def _key_order(key: str) -> tuple[int, str]:
    for i, prefix in enumerate(_ORDER):
        if key == prefix or (prefix.endswith(".") and key.startswith(prefix)):
            return (i if key != "train.seed" else len(_ORDER), key)
    return (len(_ORDER), key)


def validate_combos(grid: Grid) -> None:
    """Load every run's recipe (base + overrides) with the recipe loader and dry-run its first step as
    `check` does (once per distinct model, image size and batch); all problems at once."""
    from ..recipe import load_recipe
    from ..training.probe import first_step_problem

    issues: list[RecipeIssue] = []
    seen: set[str] = set()
    probed: dict[str, RecipeError | None] = {}
    for combo in grid.combos:
        try:
            recipe = load_recipe(grid.recipe, combo.overrides())
            grid.epochs[combo.id] = recipe.train.epochs
            r = recipe.resolved()
            key = json.dumps([r["model"], r["data"], r["train"]["batch_size"], r["train"]["accumulate"]], sort_keys=True)
            if key not in probed:
                problem = first_step_problem(recipe)
                probed[key] = RecipeError([recipe.raw.issue(problem.key, problem.message)]) if problem else None
            if probed[key] is not None:
                raise probed[key]
        except RecipeError as exc:
            for issue in exc.issues:
                text = f"run {combo.id}: {issue}"
                if str(issue) not in seen:
                    seen.add(str(issue))
                    issues.append(RecipeIssue(display(grid.path), None, "", text))
    if issues:
        raise GridError(issues)
