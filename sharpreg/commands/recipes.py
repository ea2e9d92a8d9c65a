"""``sharpreg recipes [--json]``: the installed recipes (recipe packs) with their distributions."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("recipes", help="list installed recipes (recipe packs), runnable by name",
                       description="Recipes that installed packages ship. `sharpreg run NAME` or `sharpreg run "
                       "DIST:NAME` runs one when no file of that name exists; a recipe extends one with "
                       "extends = \"DIST:NAME\"; `sharpreg show NAME` prints it.")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..console import make_console
    from rich.table import Table

    from ..registry import default_registry

    reg = default_registry()
    found = reg.all("recipe")
    if args.json:
        print(json.dumps([{"name": p.spec.name, "ref": p.ref, "summary": p.spec.summary, "distribution": p.plugin.dist,
                           "version": p.plugin.version, "file": str(p.spec.path)} for p in found], indent=2))  # type: ignore[attr-defined]
        return 0
    table = Table(title="installed recipes (run with `sharpreg run NAME`)")
    for col in ("name", "summary", "from"):
        table.add_column(col, overflow="fold")
    for p in found:
        clash = len(reg.providers("recipe", p.spec.name)) > 1
        table.add_row(p.ref if clash else p.spec.name, p.spec.summary, p.plugin.origin)
    console = make_console()
    console.print(table)
    broken = reg.broken()
    if broken:
        console.print("plugins that failed to load (they may ship recipes): "
                      + ", ".join(f"{r.name} ({r.origin})" for r in broken) + "; `sharpreg plugins` shows why")
    return 0
