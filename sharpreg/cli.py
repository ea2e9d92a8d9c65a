"""The ``sharpreg`` command line. Each sub-command is a module in ``sharpreg.commands`` exposing
``register(subparsers)``; a user's mistake prints one clear report and exits 2, never a traceback."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rich.console import Console

from . import __version__
from .commands import (check, compare, data, describe, evaluate, export, init, listing, plugins, recipes, report,
                       resume, run, schema, sharpness, show, sweep)
from .errors import RecipeError, SharpregError

#: sub-command modules, in the order ``--help`` lists them
COMMANDS = (run, resume, check, show, init, plugins, listing, describe, schema, recipes, data, evaluate, export,
            report, compare, sweep, sharpness)

err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sharpreg",
        description="Train and compare sharpness-aware optimizers (SAM, ASAM, GSAM, WSAM, CR-SAM, ...) "
        "on medical images, from TOML recipes.",
        epilog="Start with `sharpreg init my.toml`, then `sharpreg check my.toml` and `sharpreg run my.toml`.",
    )
    parser.add_argument("--version", action="version", version=f"sharpreg {__version__}")
    parser.add_argument("--no-plugins", action="store_true",
                        help="load only sharpreg's own first-party plugins (skip third-party packages)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    if args.no_plugins:
        from .registry import default_registry, set_default_registry

        set_default_registry(default_registry(first_party_only=True))
    try:
        return int(args.func(args) or 0)
    except RecipeError as exc:
        n = len(exc.issues)
        err_console.print(f"[bold red]error:[/] the recipe has {n} problem{'s' if n != 1 else ''}:")
        for issue in exc.issues:
            err_console.print(f"  {issue}", markup=False)
        return exc.exit_code
    except SharpregError as exc:
        err_console.print("[bold red]error:[/] ", end="")
        err_console.print(str(exc), markup=False)
        return exc.exit_code
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]")
        return 130


if __name__ == "__main__":
    sys.exit(main())
