"""``[tune]``: each method's key hyper-parameter chosen on validation, with the same budget for every method.

```toml
[tune]
metric = "auroc"                               # the tuning runs' train.monitor (validation, best epoch)
seeds = [0]                                    # train.seed of the tuning runs
[tune.candidates.none]
"optimizer.lr" = { times = [0.5, 1.0, 2.0] }   # multiples of the run's own value (e.g. its zip's lr)
[tune.candidates.sam]
"sharpness.rho" = [0.02, 0.05, 0.1]
```

Before the main runs, every variant runs each of its candidates for every main run's setting (model,
fold, ...) at the tuning seeds: the **tuning runs** (``SWEEP/tune/runs/``). A main run then gets the
candidate with the highest mean validation metric over the tuning seeds among the tuning runs of its
own group: the same variant and every value but the seed, so **each fold chooses on its own validation
split**, which lies inside that fold's training part (nested; a choice shared by all folds would have
seen other folds' test images as validation images). Ties go to the candidate listed first.

The test set cannot enter a choice: tuning runs are run with ``eval.score_test = false`` (their test
images are never loaded, no test metric or prediction exists), a candidate may not be an ``eval.*``,
``data.split.*`` or seed key, and :func:`validation_value` reads only ``summary.best_val`` and refuses a
tuning run with any test result. Every variant must list candidates, all lists of one length.
``SWEEP/tune/selection.json`` and ``selection.csv`` record every validation value and every choice.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import RecipeError, RunError
from ..runs import RunFolder
from .grid import Combo, Grid, flatten, short, slug, toml_literal
from .gridfile import TUNE_SEED_KEY, GridError, Problems, TuneConfig, grid_issues
from .manifest import TUNE, run_folder
#: appended to every tuning run's overrides, after everything else, so nothing can turn them off
FORCED = {"eval.score_test": False, "eval.bootstrap": 0}
_FORBIDDEN = ("eval.", "data.split.", TUNE_SEED_KEY)


@dataclass(frozen=True)
class TuneRun:
    """One tuning run: a variant's candidate value for one group at one tuning seed."""

    combo: Combo
    group: str
    candidate: int
    value: Any


@dataclass
class Tuning:
    """The tuning runs of a grid and which main runs each group's choice serves."""

    config: TuneConfig
    keys: dict[str, str]
    """the tuned key of each variant label"""
    seeds: list[Any]
    runs: list[TuneRun] = field(default_factory=list)
    values: dict[str, list[Any]] = field(default_factory=dict)
    """each group's candidate values (multiples resolved)"""
    members: dict[str, list[str]] = field(default_factory=dict)
    """the main runs of each group"""

    def validation_runs(self, main: list[Combo]) -> list[tuple[str, list[str]]]:
        """(id, overrides) to validate: every tuning run, and each main run with its group's first value."""
        first = {run: self.values[g][0] for g, runs in self.members.items() for run in runs}
        out = [(t.combo.id, t.combo.overrides()) for t in self.runs]
        for c in main:
            key = self.keys[c.variant] if c.variant in self.keys else None
            out.append((c.id, Combo(c.id, {**c.values, key: first[c.id]} if key else c.values).overrides()))
        return out


def group_of(combo: Combo) -> str:
    """The selection group of a main run: its variant and every value but the seed."""
    rest = ",".join(f"{k}={toml_literal(v)}" for k, v in sorted(combo.values.items()) if k != TUNE_SEED_KEY)
    return f"{combo.variant}|{rest}"


def _candidates(config: TuneConfig, labels: list[str | None], problems: Problems) -> dict[str, tuple[str, Any]]:
    """Each variant's (key, candidates); every variant needs one key and lists of one length."""
    found: dict[str, tuple[str, Any]] = {}
    for label in labels:
        if label is None:
            problems.append((("tune",), "[tune] needs a label on every variant (candidates are listed by label)"))
            return {}
        table = config.candidates.get(label)
        if table is None:
            problems.append((("tune", "candidates"), f"variant {label!r} has no candidates: every method is tuned, "
                             "with the same number of candidates"))
            continue
        flat = flatten(table, leaf=lambda d: set(d) == {"times"})
        if len(flat) != 1:
            problems.append((("tune", "candidates", label), f"must name exactly one key (its key hyper-parameter); "
                             f"it names {len(flat)}"))
            continue
        key, spec = next(iter(flat.items()))
        values = spec["times"] if isinstance(spec, dict) else spec
        if not isinstance(values, list) or not values or len({toml_literal(v) for v in values}) != len(values):
            problems.append((("tune", "candidates", label), "needs a non-empty list of distinct values"))
        elif key.startswith(_FORBIDDEN[:2]) or key == TUNE_SEED_KEY:
            problems.append((("tune", "candidates", label), f"{key} cannot be tuned: tuning never touches the split, "
                             "the seeds or how the test set is scored"))
        else:
            found[label] = (key, spec)
    for label in sorted(set(config.candidates) - {lb for lb in labels if lb}):
        problems.append((("tune", "candidates", label), "is not the label of a variant"))
    sizes = {label: len(spec["times"] if isinstance(spec, dict) else spec) for label, (_, spec) in found.items()}
    if len(set(sizes.values())) > 1:
        problems.append((("tune", "candidates"), "every method gets the same budget: the same number of candidates "
                         f"({', '.join(f'{k} {v}' for k, v in sizes.items())})"))
    return found


def _lookup(resolved: dict[str, Any], key: str) -> Any:
    node: Any = resolved
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _group_values(grid: Grid, combo: Combo, key: str, spec: Any, problems: Problems) -> list[Any] | None:
    """The group's candidate values: the list, or multiples of the value this run would otherwise have."""
    from ..recipe import load_recipe

    try:
        resolved = load_recipe(grid.recipe, combo.overrides()).resolved()
    except RecipeError as exc:
        problems.append(((), f"run {combo.id}: {exc.issues[0]}"))
        return None
    if _lookup(resolved, "data.split.method") == "kfold" and _lookup(resolved, "data.split.seed") is None:
        problems.append((("tune",), "with k-fold splits, data.split.seed must be fixed: otherwise a fold holds other "
                         "images at each seed and a tuning run would not match its main runs' split"))
    if not isinstance(spec, dict):
        return list(spec)
    base = _lookup(resolved, key)
    if not isinstance(base, (int, float)) or isinstance(base, bool):
        problems.append((("tune", "candidates", str(combo.variant)), f"{{times = ...}} needs a number to multiply; "
                         f"run {combo.id} has {key} = {base!r}"))
        return None
    return [float(f"{base * t:.6g}") for t in spec["times"]]


def expand_tuning(grid: Grid, text: str) -> Tuning:
    """The tuning runs of ``grid`` (validated; problems as ``grid.toml:LINE key: message``)."""
    config = grid.config.tune
    assert config is not None
    problems: Problems = []
    for key in flatten(config.set):
        if key.startswith(_FORBIDDEN[:2]):
            problems.append((("tune", "set", key), "tuning runs may not change the split or the scoring"))
    found = _candidates(config, sorted({c.variant for c in grid.combos}, key=str), problems)
    grid_seeds = [c.values[TUNE_SEED_KEY] for c in grid.combos if TUNE_SEED_KEY in c.values]
    seeds: list[Any] = list(config.seeds) if config.seeds else (grid_seeds[:1] or [None])
    tuning = Tuning(config, {label: key for label, (key, _) in found.items()}, seeds)
    for combo in grid.combos:
        if combo.variant not in found:
            continue
        group = group_of(combo)
        tuning.members.setdefault(group, []).append(combo.id)
        if group in tuning.values:
            continue
        key, spec = found[combo.variant]
        values = _group_values(grid, combo, key, spec, problems)
        if values is None:
            continue
        tuning.values[group] = values
        for i, value in enumerate(values):
            for seed in seeds:
                tuning.runs.append(TuneRun(_tune_combo(combo, key, value, seed, flatten(config.set)), group, i, value))
    ids = [t.combo.id for t in tuning.runs]
    if len(set(ids)) != len(ids):
        problems.append((("tune", "candidates"), "two tuning runs get one id: candidate values must differ after rounding"))
    if problems:
        raise GridError(grid_issues(grid.path, text, list(dict.fromkeys(problems))))
    return tuning


def _tune_combo(combo: Combo, key: str, value: Any, seed: Any, common: dict[str, Any]) -> Combo:
    values = dict(combo.values)
    base_id = combo.id
    if seed is not None:
        old = values.get(TUNE_SEED_KEY)
        token = f"seed{slug(old)}"
        base_id = base_id[: base_id.rfind(token)].rstrip("_") if old is not None and base_id.endswith(token) else base_id
        values[TUNE_SEED_KEY] = seed
    values = {**values, **common, key: value, **FORCED}
    suffix = f"{slug(short(key))}{slug(value)}" + (f"_seed{slug(seed)}" if seed is not None else "")
    return Combo(f"{base_id}_{suffix}", values, combo.variant)


# -- selection --------------------------------------------------------------------------------------
def validation_value(run: RunFolder, metric: str) -> float | None:
    """The validation ``metric`` of a finished tuning run (its best epoch's ``train.monitor``); None while
    it has not finished. A tuning run with any test result is refused: selection reads validation only."""
    summary = run.read_summary(missing_ok=True)
    if summary is None:
        return None
    if summary.test or summary.test_ci or run.predictions_file("test").exists():
        raise RunError(f"{run.path} is a tuning run with test results; tuning reads validation only. Remove the "
                       "folder and run the sweep again")
    if summary.monitor != metric:
        raise RunError(f"{run.path} selected its best epoch by {summary.monitor}, but [tune] selects by {metric}; "
                       f"set train.monitor = {metric!r}")
    return summary.best_val


def select(grid: Grid, out: Path) -> dict[str, Any]:
    """Each group's choice from its finished tuning runs (complete groups only); written to
    ``tune/selection.json`` and ``tune/selection.csv``. Returns ``{group: record}``."""
    tuning = grid.tuning
    assert tuning is not None
    scores: dict[tuple[str, int], list[float | None]] = {}
    for t in tuning.runs:
        scores.setdefault((t.group, t.candidate), []).append(
            validation_value(run_folder(Path(out), t.combo.id, tuning=True), tuning.config.metric))
    record: dict[str, Any] = {}
    for group, values in tuning.values.items():
        per = [scores[(group, i)] for i in range(len(values))]
        means = [None if any(v is None for v in s) else sum(s) / len(s) for s in per]  # type: ignore[misc]
        complete = all(m is not None for m in means)
        best = max(range(len(values)), key=lambda i: (means[i], -i)) if complete else None
        record[group] = {"variant": group.split("|", 1)[0], "key": tuning.keys[group.split("|", 1)[0]],
                         "setting": group.split("|", 1)[1], "candidates": values, "validation": per, "mean": means,
                         "chosen": values[best] if best is not None else None, "runs": tuning.members[group]}
    _write_selection(Path(out) / TUNE, tuning, record)
    return record


def _write_selection(folder: Path, tuning: Tuning, record: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    meta = {"metric": tuning.config.metric, "seeds": tuning.seeds, "rule": "highest mean validation metric over "
            "the tuning seeds, per group (variant and every value but the seed); ties: the candidate listed first",
            "groups": record}
    (folder / "selection.json").write_text(json.dumps(meta, indent=2, default=str) + "\n", encoding="utf-8")
    with (folder / "selection.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["variant", "setting", "key", "candidate", "validation_per_seed", "mean", "chosen"])
        for r in record.values():
            for value, per, mean in zip(r["candidates"], r["validation"], r["mean"]):
                w.writerow([r["variant"], r["setting"], r["key"], value, " ".join("" if v is None else f"{v:.6g}" for v in per),
                            "" if mean is None else f"{mean:.6g}", value == r["chosen"]])


def tuned_combos(grid: Grid, record: dict[str, Any]) -> list[Combo]:
    """The main runs whose group has chosen, with the chosen value (the others wait)."""
    tuning = grid.tuning
    assert tuning is not None
    out = []
    for combo in grid.combos:
        key = tuning.keys.get(combo.variant) if combo.variant else None
        chosen = record.get(group_of(combo), {}).get("chosen") if key else None
        if key is None:
            out.append(combo)
        elif chosen is not None:
            out.append(Combo(combo.id, {**combo.values, key: chosen}, combo.variant))
    return out
