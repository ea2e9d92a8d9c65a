"""The recipe's ``[[callbacks]]`` behind one interface: each hook is called on every callback that
defines it (``on_start``, ``on_epoch_end``, ``on_end``); a callback may define any of them."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any


class Callbacks:
    """The callbacks of one run (none: nothing happens)."""

    HOOKS = ("on_start", "on_epoch_end", "on_end")

    def __init__(self, items: list[Any], run_path: Path) -> None:
        self.items = items
        self.run_path = run_path

    def _call(self, hook: str, *args: Any) -> None:
        for cb in self.items:
            fn = getattr(cb, hook, None)
            if callable(fn):
                fn(*args)

    def on_start(self, recipe: Mapping[str, Any]) -> None:
        """Before the first epoch of this session, with the resolved recipe."""
        self._call("on_start", recipe)

    def on_epoch_end(self, epoch: int, metrics: Mapping[str, Any]) -> None:
        """After each epoch (1-based ``epoch``), with its ``metrics.csv`` row."""
        self._call("on_epoch_end", epoch, metrics)

    def on_end(self) -> None:
        """When the session ends (finished, interrupted or failed), once."""
        items, self.items = self.items, []
        for cb in items:
            fn = getattr(cb, "on_end", None)
            if callable(fn):
                fn(self.run_path)
