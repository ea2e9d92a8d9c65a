"""The grid file's tables, validated with pydantic, and how a grid file is read (problems as
``grid.toml:LINE key: message``, all at once). ``grid.py`` expands the tables into runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import RecipeError, RecipeIssue
from ..paths import name_problem
from ..recipe.lines import find_line, index_lines
from ..recipe.loader import display, parse_toml, read_text
from ..specs import MAX_SEED
from .cluster import SlurmConfig

#: keys whose values are replicates (folds and seeds), not factors, in the report; runs are paired on them
DEFAULT_REPLICATE_KEYS = ("data.split.fold", "train.seed")
#: the key whose values the tuning runs average over (every other key of a run defines its selection)
TUNE_SEED_KEY = "train.seed"


class MeasureConfig(BaseModel):
    """``[measure]``: after each run (or each run of ``subset``), ``sharpreg sharpness RUN`` with these options."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    samples: int = Field(128, ge=1, description="Training images to measure on.")
    iters: int = Field(10, ge=1, description="Power iterations at most.")
    probes: int = Field(5, ge=1, description="Hutchinson probe vectors.")
    points: int = Field(11, ge=2, description="Points of the 1-D loss slice.")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="Seed of the subset and the random vectors.")
    avg_rho: float = Field(0.2, gt=0, description="Radius of the average-case adaptive sharpness.")
    avg_samples: int = Field(10, ge=1, description="Antithetic Gaussian pairs of the average-case adaptive sharpness.")
    max_rho: float = Field(0.002, gt=0, description="Radius of the worst-case adaptive sharpness (an l-inf box).")
    ascent_steps: int = Field(5, ge=1, description="Ascent steps of the worst-case adaptive sharpness.")
    subset: dict[str, list[Any]] = Field(
        default_factory=dict, description="Measure only runs whose values are among these (e.g. "
        "{\"train.seed\" = [0]}); default every run.")

    def args(self) -> list[str]:
        """The ``sharpreg sharpness`` options."""
        plain = self.model_dump(exclude={"subset"})
        return [a for k, v in plain.items() for a in (f"--{k.replace('_', '-')}", str(v))]

    def wants(self, values: dict[str, Any]) -> bool:
        """Whether the run with these recipe values is in ``subset``."""
        return all(k in values and values[k] in allowed for k, allowed in self.subset.items())


class TuneConfig(BaseModel):
    """``[tune]``: each method's key hyper-parameter chosen on validation before the main runs."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    metric: str = Field("auroc", description="The validation metric that selects: the tuning runs' train.monitor "
                        "at their best epoch, averaged over the tuning seeds.")
    seeds: list[int] | None = Field(None, description="train.seed values of the tuning runs (default: the grid's "
                                    "first seed).")
    set: dict[str, Any] = Field(default_factory=dict, description="Overrides of every tuning run (the same for "
                                "every method).")
    candidates: dict[str, dict[str, Any]] = Field(description="Per variant label: one recipe key and its candidate "
                                                  "values, a list or {times = [...]} (multiples of the run's own value).")


class GridFile(BaseModel):
    """The validated content of a grid file."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    recipe: str = Field(min_length=1, description="Base recipe, relative to the grid file.")
    name: str = Field("", description="Sweep name (the folder sweeps/<name>); default the grid file's name.")
    description: str = Field("", description="What the sweep is for.")
    baseline: str = Field("none", min_length=1, description="Method (variant label, else sharpness.name) that the "
                          "paired tests compare against.")
    replicates: list[str] = Field(list(DEFAULT_REPLICATE_KEYS), description="Keys that are replicates (paired on).")
    workers: int = Field(1, ge=1, le=256, description="Parallel runs on this machine.")
    threads: int = Field(1, ge=1, le=256, description="torch threads per run.")
    estimate: str = Field("", description="Free text: measured cost of the sweep.")
    set: dict[str, Any] = Field(default_factory=dict, description="Overrides applied to every run.")
    grid: dict[str, Any] = Field(default_factory=dict, description="Cartesian product of value lists.")
    zip: dict[str, dict[str, Any]] = Field(default_factory=dict, description="Axes whose value lists pair element by "
                                           "element (e.g. an architecture with its weights file and learning rate).")
    variants: list[dict[str, Any]] = Field(default_factory=list, description="Explicit override sets.")
    tune: TuneConfig | None = Field(None, description="Tune each method's key hyper-parameter on validation.")
    slurm: SlurmConfig = Field(default_factory=SlurmConfig)
    measure: MeasureConfig | None = Field(None, description="Measure each trained run's sharpness.")

    @field_validator("name")
    @classmethod
    def _folder_name(cls, value: str) -> str:
        problem = name_problem(value) if value else None
        if problem:
            raise ValueError(f"{problem}: it names the sweep's folder; use a plain name such as 'busi-cpu'")
        return value


class GridError(RecipeError):
    """Problems in a grid file (reported like recipe problems: file:line key: message)."""


Problems = list[tuple[tuple[str, ...], str]]
_TABLES = {"slurm": SlurmConfig, "measure": MeasureConfig, "tune": TuneConfig}


def grid_issues(path: Path, text: str, problems: Problems) -> list[RecipeIssue]:
    """Problems as issues with the line that sets each key."""
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


def read_grid_file(path: Path) -> tuple[str, GridFile]:
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
        problems: Problems = []
        for err in exc.errors(include_url=False):
            loc = tuple(str(x) for x in err["loc"])
            msg = {"extra_forbidden": "unknown key; known keys: " + ", ".join(GridFile.model_fields),
                   "missing": "required key is missing"}.get(err["type"], err["msg"])
            if err["type"] == "extra_forbidden" and loc[:1] and loc[0] in _TABLES:
                msg = "unknown key; known keys: " + ", ".join(_TABLES[loc[0]].model_fields)
            problems.append((loc, msg))
        raise GridError(grid_issues(path, text, problems)) from None
