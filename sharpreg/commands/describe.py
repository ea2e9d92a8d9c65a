"""``sharpreg describe KIND NAME``: every parameter of a plugin with type, default, bounds and description."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..errors import PluginError
from ..kinds import PluginKind, kind_of, parameterized_kinds
from . import out_console


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("describe", help="show a plugin's parameters (type, default, bounds, description)")
    p.add_argument("kind", choices=sorted({a for k in parameterized_kinds() for a in k.aliases}),
                   help=", ".join(k.name for k in parameterized_kinds()))
    p.add_argument("name", help="plugin name (or DIST:NAME)")
    p.add_argument("--json", action="store_true", help="the parameters' JSON Schema")
    p.set_defaults(func=run)


def _type_of(prop: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in prop:
        return prop["$ref"].rsplit("/", 1)[-1]
    if "enum" in prop:
        return " | ".join(json.dumps(v) for v in prop["enum"])
    if "const" in prop:
        return json.dumps(prop["const"])
    if "anyOf" in prop:
        return " | ".join(_type_of(p, defs) for p in prop["anyOf"])
    if prop.get("type") == "array":
        return f"list[{_type_of(prop.get('items', {}), defs)}]"
    return str(prop.get("type", "any"))


def _bounds(prop: dict[str, Any]) -> str:
    marks = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<", "minLength": "len>=", "minItems": "items>="}
    found = [f"{sym} {prop[k]}" for k, sym in marks.items() if k in prop]
    for alt in prop.get("anyOf", []):
        found += [f"{sym} {alt[k]}" for k, sym in marks.items() if k in alt]
    return ", ".join(found)


def _builtin_metric(name: str) -> int:
    """``describe metric auroc``: the built-in entries have no plugin behind them."""
    from ..metrics.table import METRICS

    m = next((m for m in METRICS if m.name == name), None)
    if m is None:
        raise PluginError(f"unknown metric {name!r}")
    from ..console import styled

    console = out_console()
    console.print(styled((f"metric {m.name}", "bold"), f" — {m.label}: {m.better} is better; classes: {m.task}; "
                         "built into sharpreg and reported for every run (no parameters)"))
    return 0


def _where(kind: PluginKind) -> str:
    if kind.chosen_by:
        return kind.chosen_by
    return f"[[{kind.table}]] name = ..." if kind.many else f"[{kind.table}] name = ..."


def run(args: argparse.Namespace) -> int:
    from ..console import styled
    from rich.table import Table

    from ..metrics.table import names as builtin_metrics
    from ..registry import default_registry

    kind = kind_of(args.kind)
    if kind.name == "metric" and args.name in builtin_metrics():
        return _builtin_metric(args.name)
    provided = default_registry().get(kind.name, args.name)
    schema = provided.spec.params.model_json_schema()
    if args.json:
        print(json.dumps(schema, indent=2))
        return 0
    console = out_console()
    spec = provided.spec
    console.print(styled((f"{kind.name} {spec.name}", "bold"), f" — {spec.summary}"))
    if spec.citation:
        console.print(f"citation: {spec.citation}", markup=False)
    console.print(f"from: {provided.plugin.origin} (module {provided.plugin.module})", markup=False)
    console.print(f"chosen by: {_where(kind)}", markup=False)
    if kind.name == "metric":
        console.print(f"{getattr(spec, 'better', 'higher')} is better; classes: {getattr(spec, 'task', 'any')}",
                      markup=False)
    if kind.name == "command":
        parser = argparse.ArgumentParser(prog=f"sharpreg {spec.name}", description=spec.summary)
        spec.factory(parser)
        console.print(parser.format_help(), markup=False, highlight=False)
        return 0
    defs = schema.get("$defs", {})

    def table_for(title: str, sch: dict[str, Any]) -> None:
        props = sch.get("properties", {})
        if not props:
            console.print(f"{title}: none", markup=False)
            return
        table = Table(title=title)
        for col in ("parameter", "type", "default", "bounds", "description"):
            table.add_column(col, overflow="fold")
        for key, prop in props.items():
            default = json.dumps(prop["default"]) if "default" in prop else "(required)"
            table.add_row(key, _type_of(prop, defs), default, _bounds(prop), prop.get("description", ""))
        console.print(table)

    table_for(f"[{kind.table or kind.name}] parameters", schema)
    for name, sub in defs.items():
        table_for(f"{name} (nested table)", sub)
    return 0
