"""Sub-commands of the ``sharpreg`` CLI: one module each, with ``register(subparsers)``."""

from __future__ import annotations

import argparse


def add_set_option(parser: argparse.ArgumentParser) -> None:
    """The ``--set TABLE.KEY=VALUE`` option shared by commands that read a recipe."""
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="TABLE.KEY=VALUE",
                        help="override a recipe value (VALUE is a TOML literal, e.g. sharpness.rho=0.1 "
                        "or data.classes='[\"benign\",\"malignant\"]'); repeatable")
