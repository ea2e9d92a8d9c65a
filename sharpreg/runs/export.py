"""``sharpreg export RUN``: a recipe that reproduces a finished run elsewhere, with its split file and model.

The exported recipe is the run's resolved recipe with every plugin named ``dist:name``, ``requires`` naming
every distribution that provided one (at least the version that ran), the data pinned by its fingerprint,
the split read from the split file beside it (images matched by content), and a ``[lock]`` table with the
exact versions, the fingerprint and the SHA-256 of the split file and the model. Paths of the exporting
machine (``data.root``...) are left out; the receiving lab sets its own.

:class:`ExportedModel` is the other direction: an exported recipe and the model file beside it, which
``sharpreg evaluate`` scores like a run folder.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import tomli_w

from ..digests import file_sha256
from ..errors import RunError, SharpregError
from ..recipe import Recipe, load_recipe
from ..recipe.validate import local_paths, pinned_requires
from .evaluations import EvaluationFolder
from .files import write_text
from .folder import RunFolder, RunState, Weights
from .weights import load_safetensors, read_metadata


@dataclass(frozen=True)
class Exported:
    """The files ``export_run`` wrote."""

    recipe: Path
    split: Path
    model: Path | None
    left_out: list[str]
    """the keys whose values were paths of the exporting machine"""


def _targets(out: Path) -> tuple[Path, Path, Path]:
    stem = out.name[: -len(".toml")] if out.name.endswith(".toml") else out.name
    return out.with_name(f"{stem}.toml"), out.with_name(f"{stem}.split.json"), out.with_name(f"{stem}.safetensors")


def _exported_recipe(run: RunFolder, recipe: Recipe, split: Path, model: Path | None) -> tuple[dict[str, Any], list[str]]:
    env = run.read_environment() or {}
    ran = {p["distribution"]: p["version"] for p in env.get("plugins", []) if p.get("distribution") and p.get("version")}
    fingerprint = (run.read_split() or {}).get("fingerprint")
    if not fingerprint:
        raise RunError(f"{run.split_file} lists no images by content (a run of an older sharpreg?); "
                       "run the recipe again to export it")
    data = recipe.pinned()
    if ran:  # the versions that ran, rather than the ones installed now
        data["requires"] = pinned_requires(recipe.requires, ran)
    left_out = []
    for sel in recipe.selected():
        for key in local_paths(sel.params):
            node = data[sel.table]
            for k in key[:-1]:
                node = node[k]
            node.pop(key[-1], None)
            left_out.append(".".join((sel.table, *key)))
    split_table = data["data"].setdefault("split", {})
    for key in ("val", "test", "folds", "fold", "seed", "twins"):
        split_table.pop(key, None)
    split_table.update({"method": "file", "file": split.name, "unlisted": "error"})
    data["data"]["fingerprint"] = fingerprint
    data["lock"] = {
        "run": run.path.name, "exported": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": env.get("python") or "", "distributions": ran,
        "packages": {k: v for k, v in (env.get("packages") or {}).items() if v},
        "data_fingerprint": fingerprint, "split_file": split.name, "split_sha256": file_sha256(run.split_file),
        **({"model_file": model.name, "model_sha256": file_sha256(run.model_file)} if model else {}),
    }
    return data, left_out


def export_run(run_path: Path, out: Path | None = None, *, force: bool = False) -> Exported:
    """Write ``NAME.toml``, ``NAME.split.json`` and ``NAME.safetensors`` for a finished run; nothing is written
    when anything is wrong."""
    run = RunFolder.open(run_path)
    if run.state() is not RunState.DONE:
        raise RunError(f"{run.path} has not finished; finish or resume it before exporting it")
    recipe = run.load_recipe()
    recipe_file, split_file, model_file = _targets(Path(out) if out else Path(f"{run.path.name}.toml"))
    has_model = run.model_file.is_file()
    taken = [p for p in (recipe_file, split_file, *([model_file] if has_model else [])) if p.exists()]
    if taken and not force:
        raise SharpregError(f"{taken[0]} already exists; choose another -o or pass --force to overwrite")
    data, left_out = _exported_recipe(run, recipe, split_file, model_file if has_model else None)
    header = (f"# Exported by sharpreg from the run {run.path.name}: it reproduces that run on another machine.\n"
              f"# The split is read from {split_file.name} (images matched by content, not by name); the data must\n"
              f"# have the fingerprint below. `sharpreg check --strict {recipe_file.name}` compares [lock] with this machine.\n")
    if left_out:
        header += "# Paths of the exporting machine were left out; set them here if needed: " + ", ".join(left_out) + "\n"
    recipe_file.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(run.split_file, split_file)
    if has_model:
        shutil.copyfile(run.model_file, model_file)
    write_text(recipe_file, header + tomli_w.dumps(data))
    return Exported(recipe_file, split_file, model_file if has_model else None, left_out)


class ExportedModel:
    """An exported recipe and the model file its ``[lock]`` names: scored by ``sharpreg evaluate`` like a run.
    Its evaluations go to ``<recipe stem>-evaluations/<name>/`` beside it."""

    def __init__(self, recipe_file: Path) -> None:
        self.resolved_file = Path(recipe_file)
        self.path = self.resolved_file.parent
        self._recipe: Recipe | None = None

    def load_recipe(self) -> Recipe:
        if self._recipe is None:
            self._recipe = load_recipe(self.resolved_file)
        return self._recipe

    @property
    def model_file(self) -> Path:
        lock = self.load_recipe().lock
        if lock is None or not lock.model_file:
            raise RunError(f"{self.resolved_file} names no model file ([lock] model_file); export a run with "
                           "`sharpreg export RUN` to get a recipe and its model")
        return self.path / lock.model_file

    def classes(self) -> list[str]:
        meta = read_metadata(self.model_file)
        try:
            classes = json.loads(meta.get("classes", ""))
        except ValueError:
            classes = None
        if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
            raise RunError(f"{self.model_file} does not say which classes the model predicts (no 'classes' metadata)")
        return classes

    def load_weights(self, choice: Weights = "best") -> tuple[dict[str, Any], str]:
        if choice == "last":
            raise RunError("an exported model has only its selected weights; drop --checkpoint last")
        return load_safetensors(self.model_file), self.model_file.name

    def new_evaluation(self, name: str) -> EvaluationFolder:
        return EvaluationFolder.new(self.path / f"{self.resolved_file.stem}-evaluations", name)
