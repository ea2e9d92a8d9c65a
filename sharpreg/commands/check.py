"""``sharpreg check RECIPE...``: validate recipes without running anything.

A recipe that pins its data (``data.fingerprint``, a split file, or an exported recipe's ``[lock]``) is also
checked against the local copy of the data, which is read (and hashed, once: the hashes are cached).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..console import make_console, styled
from . import RECIPE_HELP, add_set_option, add_strict_option, warn

if TYPE_CHECKING:
    from ..recipe import Recipe


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check", help="validate recipes and report every problem (exit 2 if any)",
                       description="Validate each RECIPE: plugin names, then each plugin's parameters. "
                       "Every problem is listed as FILE:LINE TABLE.KEY: message. A valid recipe's first training "
                       "step is then tried on torch's meta device (no memory, no arithmetic), so a model that "
                       "cannot take the recipe's batches or image size is reported too. A recipe that pins its data "
                       "(data.fingerprint, data.split.file, [lock]) is checked against the local data too, and an "
                       "exported recipe's [lock] against this machine.")
    p.add_argument("recipes", nargs="+", metavar="RECIPE", help=RECIPE_HELP)
    add_set_option(p)
    add_strict_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import RecipeError, SharpregError
    from ..recipe import load_recipe
    from ..recipe.lock import enforce, lock_differences
    from ..training.probe import first_step_problem

    out, err = make_console(), make_console(stderr=True)
    status = 0
    for path in args.recipes:
        try:
            recipe = load_recipe(path, args.overrides)
            problem = first_step_problem(recipe)
            if problem is not None:
                raise RecipeError([recipe.raw.issue(problem.key, problem.message)])
            fingerprint = local_fingerprint(recipe)
            enforce(lock_differences(recipe, data_fingerprint=fingerprint, model=True), strict=args.strict, warn=warn)
        except RecipeError as exc:
            status = 2
            err.print(styled(("✗", "red"), f" {path}: {len(exc.issues)} problem(s)"))
            for issue in exc.issues:
                err.print(f"  {issue}")
            continue
        except SharpregError as exc:
            status = 2
            err.print(styled(("✗", "red"), f" {path}: {exc}"))
            continue
        parts = ", ".join(f"{s.table} {s.name}" for s in recipe.selected())
        data = f"; the local data matches ({fingerprint[:19]}…)" if fingerprint else ""
        out.print(styled(("✓", "green"), f" {path}: {parts}{data}"))
    return status


def local_fingerprint(recipe: Recipe) -> str | None:
    """When the recipe pins its data: set its data up (which checks the pins) and return the fingerprint."""
    data = recipe.data.params
    pinned = data.fingerprint or data.split.method == "file" or (recipe.lock and recipe.lock.data_fingerprint)
    if not pinned:
        return None
    from ..build import build_datamodule

    dm = build_datamodule(recipe)
    dm.setup()
    return dm.fingerprint
