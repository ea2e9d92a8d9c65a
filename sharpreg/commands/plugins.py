"""``sharpreg plugins [--json]``: every plugin (active, disabled, broken) and what it provides."""

from __future__ import annotations

import argparse
import json

from . import out_console


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plugins", help="list plugins: active, disabled and broken, with their distributions")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..console import styled
    from rich.table import Table

    from ..registry import default_registry

    reg = default_registry()
    if args.json:
        conflicts = [[p.provenance() for p in ps] for ps in reg.conflicts()]
        print(json.dumps({"plugins": [r.as_dict() for r in reg.records], "conflicts": conflicts,
                          "warnings": reg.warnings}, indent=2))
        return 0
    table = Table(title="sharpreg plugins (entry-point group 'sharpreg')")
    for col in ("plugin", "distribution", "status", "provides / error"):
        table.add_column(col, overflow="fold")
    colours = {"active": "green", "disabled": "yellow", "broken": "red"}
    for r in reg.records:
        what = r.error if r.status == "broken" else "; ".join(f"{k}: {', '.join(v)}" for k, v in r.provides.items())
        table.add_row(r.name, r.origin, styled((r.status, colours[r.status])), what or "-")
    console = out_console()
    console.print(table)
    for message in reg.warnings:
        console.print(styled(("warning:", "yellow"), f" {message}"))
    for ps in reg.conflicts():
        who = " and ".join(p.plugin.origin for p in ps)
        console.print(styled(("conflict:", "red"), f" {ps[0].spec.kind} {ps[0].spec.name!r} is provided by {who}; recipes must write DIST:NAME"))
    return 0
