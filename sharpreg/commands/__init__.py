"""Sub-commands of the ``sharpreg`` CLI: one module each, with ``register(subparsers)``."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


def out_console() -> Console:
    """The console for a command's output: the terminal's width on a terminal; unwrapped lines when piped
    (rich would fold tables at 80 columns, which breaks ``grep`` and ``cut``); text as given (``console.py``)."""
    from ..console import make_console

    return make_console() if sys.stdout.isatty() else make_console(width=1000)


def add_set_option(parser: argparse.ArgumentParser) -> None:
    """The ``--set TABLE.KEY=VALUE`` option shared by commands that read a recipe."""
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="TABLE.KEY=VALUE",
                        help="override a recipe value (VALUE is a TOML literal, e.g. sharpness.rho=0.1 "
                        "or data.classes='[\"benign\",\"malignant\"]'); repeatable")


RECIPE_HELP = "recipe TOML file, or an installed recipe's NAME or DIST:NAME (`sharpreg recipes`)"


def add_strict_option(parser: argparse.ArgumentParser) -> None:
    """``--strict``: differences from an exported recipe's ``[lock]`` are errors, not warnings."""
    parser.add_argument("--strict", action="store_true",
                        help="stop (exit 2) when this machine differs from the recipe's [lock] (versions, data, files); "
                        "default: warn")


def warn(text: str) -> None:
    """A warning on standard error."""
    from ..console import make_console, styled

    make_console(stderr=True).print(styled(("warning:", "yellow"), f" {text}"))


def add_nproc_option(parser: argparse.ArgumentParser) -> None:
    """``--nproc N``: start the command on N processes through torch's launcher (torchrun)."""
    parser.add_argument("--nproc", type=int, default=None, metavar="N",
                        help="train on N processes of this machine (one per GPU, or N CPU processes with gloo), "
                        "started through torch.distributed.run: the same as `torchrun --nproc-per-node N -m sharpreg "
                        "...`. Each process takes its part of every batch (train.batch_size is the global batch)")


def global_args(args: argparse.Namespace) -> list[str]:
    """The options before the command that the processes of a launched run must get too."""
    return ["--no-plugins"] if getattr(args, "no_plugins", False) else []
