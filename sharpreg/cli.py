"""The ``sharpreg`` command line. Each sub-command is a module in ``sharpreg.commands`` exposing
``register(subparsers)``; a user's mistake prints one clear report and exits 2, never a traceback."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from . import __version__
from .commands import (check, compare, data, describe, evaluate, export, init, listing, plugins, recipes, report,
                       resume, run, schema, sharpness, show, sweep)
from .console import make_console, styled
from .errors import Interrupted, PluginError, RecipeError, SharpregError
from .launch import launch_rank, launched
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
        epilog="Start with `sharpreg init my.toml`, then `sharpreg check my.toml` and `sharpreg run my.toml`. "
        "Plugins may add commands: `sharpreg list commands`.",
    )
    parser.add_argument("--version", action="version", version=f"sharpreg {__version__}")
    parser.add_argument("--no-plugins", action="store_true",
                        help="load only sharpreg's own first-party plugins (skip third-party packages)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS:
        module.register(sub)
    return parser


def _command_word(argv: Sequence[str]) -> str | None:
    """The command named on the command line (the first word that is not an option)."""
    return next((a for a in argv if not a.startswith("-")), None)


def _add_plugin_command(parser: argparse.ArgumentParser, word: str) -> None:
    """``sharpreg WORD`` where WORD is not one of sharpreg's commands: a plugin's command, if one is called so
    (otherwise argparse reports the unknown command with the built-in choices)."""
    from .registry import default_registry

    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    if word in sub.choices:
        return
    reg = default_registry()
    if word not in reg.names("command"):
        return
    spec = reg.get("command", word).spec
    p = sub.add_parser(word, help=spec.summary, description=spec.summary)
    handler = spec.factory(p)
    if not callable(handler):
        raise PluginError(f"command {word!r}: its factory returned {type(handler).__name__}, not a function run(args)")
    p.set_defaults(func=handler)


def _warnings_to_stderr() -> None:
    """Plugin warnings (``sharpreg.plugins``) as one ``warning:`` line each on stderr."""
    logger = logging.getLogger("sharpreg.plugins")
    if not any(getattr(h, "sharpreg_cli", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("warning: %(message)s"))
        handler.sharpreg_cli = True  # type: ignore[attr-defined]
        logger.addHandler(handler)


def _run(argv: list[str]) -> int:
    _warnings_to_stderr()
    w = _command_word(argv)
    if "--no-plugins" in (argv[: argv.index(w)] if w is not None else argv):
        from .registry import default_registry, set_default_registry

        set_default_registry(default_registry(first_party_only=True))
    parser = build_parser()
    if w is not None:
        _add_plugin_command(parser, w)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        if launched():
            raise SharpregError("torchrun started sharpreg without a command; use torchrun --nproc-per-node N -m "
                                "sharpreg run RECIPE")
        parser.print_help()
        return 0
    return int(args.func(args) or 0)


def main(argv: Sequence[str] | None = None) -> int:
    follow_parent()  # a sweep's run ends with the sweep
    # the other processes of a torchrun run say nothing: rank 0 reports for all
    err = err_console if launch_rank() == 0 else make_console(stderr=True, quiet=True)
    try:
        return _run(list(sys.argv[1:] if argv is None else argv))
    except RecipeError as exc:
        n = len(exc.issues)
        err.print(styled(("error:", "bold red"), f" the recipe has {n} problem{'s' if n != 1 else ''}:"))
        for issue in exc.issues:
            err.print(f"  {issue}")
        return exc.exit_code
    except Interrupted as exc:  # stopped on request: not an error; says where and how to continue
        err.print(styled((str(exc), "yellow")))
        return exc.exit_code
    except SharpregError as exc:
        err.print(styled(("error:", "bold red"), " ", str(exc)))
        return exc.exit_code
    except KeyboardInterrupt:
        err.print(styled(("interrupted", "yellow")))
        return 130


if __name__ == "__main__":
    sys.exit(main())
