"""``sharpreg list rules|optimizers|models|datasets``: installed plugin names with their summaries."""

from __future__ import annotations

import argparse

PLURALS = {"rules": "rule", "optimizers": "optimizer", "models": "model", "datasets": "dataset"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list", help="list installed rules, optimizers, models or datasets")
    p.add_argument("kind", choices=sorted(PLURALS), help="what to list")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from ..registry import default_registry

    kind = PLURALS[args.kind]
    table = Table(title=f"installed {args.kind}")
    for col in ("name", "summary", "from"):
        table.add_column(col, overflow="fold")
    for p in default_registry().all(kind):
        table.add_row(p.spec.name, p.spec.summary, p.plugin.origin)
    Console().print(table)
    return 0
