"""The one way sharpreg makes a rich console: text is printed as given.

File names, recipe names, class names and messages come from users. With rich's defaults ``[red]`` in
them would be read as a style and ``:x:`` as an emoji, so every console has markup, emoji and
highlighting off; colour is added only through :func:`styled` (or rich's ``style=`` arguments).
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.text import Text


def make_console(*, stderr: bool = False, **options: Any) -> Console:
    """A console that prints strings literally (no markup, no emoji codes, no highlighting) and never
    breaks a line of text (a path or a message stays whole; tables still fit the terminal)."""
    return Console(stderr=stderr, **{"markup": False, "emoji": False, "highlight": False, "soft_wrap": True, **options})


def styled(*parts: str | tuple[str, str]) -> Text:
    """Text from plain strings and ``(text, style)`` pairs; nothing in the strings is interpreted."""
    return Text.assemble(*parts)
