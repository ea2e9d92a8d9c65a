"""Child processes that end with their parent: a sweep's runs do not outlive the sweep.

A sweep starts each run as ``sharpreg ...`` with ``SHARPREG_PARENT_PID`` set to its own pid. The child
asks the Linux kernel for SIGTERM when the thread that started it ends (``PR_SET_PDEATHSIG``), then checks
that this parent is still there (it may have died before the request). Elsewhere the request is not
available; the run folder's lock still keeps a rerun sweep from touching a run that is still written.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys

PARENT_ENV = "SHARPREG_PARENT_PID"
_PR_SET_PDEATHSIG = 1


def child_environment(env: dict[str, str]) -> dict[str, str]:
    """``env`` for a child that should end with this process."""
    return {**env, PARENT_ENV: str(os.getpid())}


def follow_parent(env: dict[str, str] | None = None) -> bool:
    """In a child started with :func:`child_environment`: end (SIGTERM) when the parent ends. Returns
    whether the kernel took the request."""
    env = os.environ if env is None else env
    try:
        parent = int(env.pop(PARENT_ENV, ""))  # for this process only, not for what it starts
    except ValueError:
        return False
    armed = sys.platform.startswith("linux") and _set_parent_death_signal(signal.SIGTERM)
    if armed and os.getppid() != parent:  # the parent ended before the request was made
        os.kill(os.getpid(), signal.SIGTERM)
    return armed


def _set_parent_death_signal(sig: int) -> bool:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False
