"""``sharpreg list KINDS`` (rules, optimizers, models, datasets, losses, metrics, ...): installed plugins
with their summaries."""

from __future__ import annotations

import argparse

from ..kinds import KINDS, kind_of
from . import out_console


def register(sub: argparse._SubParsersAction) -> None:
    plurals = [k.plural for k in KINDS]
    p = sub.add_parser("list", help=f"list installed {', '.join(plurals)}")
    p.add_argument("kind", choices=sorted(plurals), help="what to list")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.table import Table

    from ..metrics.table import METRICS
    from ..registry import default_registry

    kind = kind_of(args.kind)
    table = Table(title=f"installed {args.kind}")
    for col in ("name", "summary", "from"):
        table.add_column(col, overflow="fold")
    if kind.name == "metric":
        for m in METRICS:
            table.add_row(m.name, f"{m.label} ({m.better} is better)", "sharpreg (built in, always reported)")
    for p in default_registry().all(kind.name):
        table.add_row(p.spec.name, p.spec.summary, p.plugin.origin)
    console = out_console()
    console.print(table)
    if kind.chosen_by:
        console.print(f"chosen by: {kind.chosen_by}", markup=False)
    elif kind.many:
        console.print(f"a recipe lists them as [[{kind.table}]] tables with name = ...", markup=False)
    return 0
