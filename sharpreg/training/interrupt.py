"""Stopping a run: Ctrl-C (SIGINT) or SIGTERM (``kill``, a scheduler's stop) during training stops it at the
end of the current step (the trainer then saves a checkpoint and says how to resume); a second one aborts
at once. Before training starts (nothing to save yet) SIGTERM stops the run as Ctrl-C does."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
SIGNAL_NAMES = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}


class StopFlag:
    """Set by the first stop signal (or by code: ``request()``); the trainer checks it between steps."""

    def __init__(self) -> None:
        self.requested = False

    def request(self) -> None:
        self.requested = True


def _in_other_process(owner: int, signum: int) -> bool:
    """A data-loader worker forked while a handler was installed inherits it: there the signal keeps its
    default meaning (Ctrl-C raises KeyboardInterrupt, which torch's workers expect; SIGTERM ends it)."""
    if os.getpid() == owner:
        return False
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
    return True


@contextmanager
def _handling(handler: Callable[[int, Any], None]) -> Iterator[None]:
    """Route SIGINT and SIGTERM to ``handler`` while the block runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in STOP_SIGNALS}
    for s in STOP_SIGNALS:
        signal.signal(s, handler)
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


@contextmanager
def stop_signals_interrupt() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt, as Ctrl-C does (for the time before training starts)."""
    owner = os.getpid()

    def handler(signum: int, frame: Any) -> None:
        if not _in_other_process(owner, signum):
            raise KeyboardInterrupt

    with _handling(handler):
        yield


@contextmanager
def graceful_interrupt(flag: StopFlag, notify: Callable[[str], None]) -> Iterator[StopFlag]:
    """The first stop signal sets ``flag`` (and ``notify`` says so); a second raises KeyboardInterrupt."""
    owner = os.getpid()

    def handler(signum: int, frame: Any) -> None:
        if _in_other_process(owner, signum):
            return
        if flag.requested:
            raise KeyboardInterrupt
        flag.request()
        notify(f"{SIGNAL_NAMES.get(signum, 'signal')}: stopping after this step and saving a checkpoint "
               "(Ctrl-C again aborts now)")

    with _handling(handler):
        yield flag
