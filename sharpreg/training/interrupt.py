"""Ctrl-C during training: the first stops at the end of the current step (the trainer then saves a
checkpoint and says how to resume); a second one aborts at once."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


class StopFlag:
    """Set by the first Ctrl-C (or by code: ``request()``); the trainer checks it between steps."""

    def __init__(self) -> None:
        self.requested = False

    def request(self) -> None:
        self.requested = True


@contextmanager
def graceful_interrupt(flag: StopFlag, notify: Callable[[str], None]) -> Iterator[StopFlag]:
    """Route SIGINT to ``flag`` while the block runs (main thread only; elsewhere nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum: int, frame: Any) -> None:
        if flag.requested:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt
        flag.request()
        notify("Ctrl-C: stopping after this step and saving a checkpoint (press Ctrl-C again to abort now)")

    signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)
