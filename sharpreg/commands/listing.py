"""``sharpreg list KINDS`` (rules, optimizers, models, datasets...): installed plugins with their summaries."""

from __future__ import annotations

import argparse

from ..kinds import KINDS, kind_of


def register(sub: argparse._SubParsersAction) -> None:
    plurals = [k.plural for k in KINDS]
    p = sub.add_parser("list", help=f"list installed {', '.join(plurals)}")
    p.add_argument("kind", choices=sorted(plurals), help="what to list")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..console import make_console
    from rich.table import Table

    from ..registry import default_registry

    kind = kind_of(args.kind).name
    table = Table(title=f"installed {args.kind}")
    for col in ("name", "summary", "from"):
        table.add_column(col, overflow="fold")
    for p in default_registry().all(kind):
        table.add_row(p.spec.name, p.spec.summary, p.plugin.origin)
    make_console().print(table)
    return 0
