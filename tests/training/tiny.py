"""A tiny phantom recipe and helpers to train it in-process (seconds on a CPU)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from rich.console import Console

TINY = """
schema_version = 1

[meta]
name = "tiny"

[data]
name = "phantom"
classes = ["benign", "malignant"]
per_class = {per_class}
native_size = 32
image_size = 32

[data.split]
val = 0.25
test = 0.25

[model]
name = "timm"
arch = "{arch}"

[optimizer]
name = "sgd"
lr = 0.05

[sharpness]
name = "{rule}"
{sharpness}

[train]
epochs = {epochs}
batch_size = {batch_size}
{max_steps}
device = "cpu"
seed = 3
scheduler = "cosine"
warmup_epochs = 0.5

[eval]
bootstrap = 20
"""


def recipe_text(*, rule: str = "sam", epochs: int = 3, arch: str = "test_resnet", per_class: int = 12,
                batch_size: int = 4, max_steps: int | None = 3, sharpness: str = "") -> str:
    """The tiny recipe as TOML (``max_steps=None``: every step of each epoch; ``sharpness``: more keys of that table)."""
    steps = f"max_steps_per_epoch = {max_steps}" if max_steps else ""
    return TINY.format(rule=rule, epochs=epochs, arch=arch, per_class=per_class, batch_size=batch_size,
                       max_steps=steps, sharpness=sharpness)


def write_recipe(folder: Path, *, rule: str = "sam", extra: str = "", **shape: object) -> Path:
    """The tiny recipe in ``folder`` (``shape``: the keywords of :func:`recipe_text`), plus ``extra`` TOML."""
    path = folder / f"tiny-{rule}.toml"
    path.write_text(recipe_text(rule=rule, **shape) + extra)  # type: ignore[arg-type]
    return path


def quiet() -> Console:
    return Console(file=io.StringIO(), width=120)


def trainer(recipe_path: Path, out: Path, *, overrides: list[str] | None = None, resume: bool = False) -> Any:
    from sharpreg.recipe import load_recipe
    from sharpreg.runs import RunFolder
    from sharpreg.training import Trainer

    if resume:
        folder = RunFolder.open(out)
        recipe = load_recipe(folder.path / "resolved.toml")
    else:
        recipe = load_recipe(recipe_path, overrides or [])
        folder = RunFolder.create(recipe, out=out)
        folder.release()  # fit() takes the folder's lock for as long as it trains
    return Trainer(recipe, folder, console=quiet(), progress=False, resume=resume)
