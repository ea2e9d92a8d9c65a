"""The ``sharpreg`` command line. Each sub-command is a module in ``sharpreg.commands`` exposing
``register(subparsers)``; a user's mistake prints one clear report and exits 2, never a traceback."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import __version__
from .commands import (check, compare, data, describe, evaluate, export, init, listing, plugins, recipes, report,
                       resume, run, schema, sharpness, show, sweep)
from .console import make_console, styled
from .errors import RecipeError, SharpregError
from .lifetime import follow_parent

#: sub-command modules, in the order ``--help`` lists them
COMMANDS = (run, resume, check, show, init, plugins, listing, describe, schema, recipes, data, evaluate, export,
            report, compare, sweep, sharpness)

err_console = make_console(stderr=True)


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
    from .launch import launch_rank, launched

    follow_parent()  # a sweep's run ends with the sweep
    parser = build_parser()
    args = parser.parse_args(argv)
    # the other processes of a torchrun run say nothing: rank 0 reports for all
    err = err_console if launch_rank() == 0 else make_console(stderr=True, quiet=True)
    if not getattr(args, "func", None):
        if launched():
            err.print(styled(("error:", "bold red"), " torchrun started sharpreg without a command; use torchrun "
                             "--nproc-per-node N -m sharpreg run RECIPE"))
            return 2
        parser.print_help()
        return 0
    if args.no_plugins:
        from .registry import default_registry, set_default_registry

        set_default_registry(default_registry(first_party_only=True))
    try:
        return int(args.func(args) or 0)
    except RecipeError as exc:
        n = len(exc.issues)
        err.print(styled(("error:", "bold red"), f" the recipe has {n} problem{'s' if n != 1 else ''}:"))
        for issue in exc.issues:
            err.print(f"  {issue}")
        return exc.exit_code
    except SharpregError as exc:
        err.print(styled(("error:", "bold red"), " ", str(exc)))
        return exc.exit_code
    except KeyboardInterrupt:
        err.print(styled(("interrupted", "yellow")))
        return 130


if __name__ == "__main__":
    sys.exit(main())
