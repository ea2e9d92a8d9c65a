"""A run folder's lock: one writer at a time, and the lock dies with its holder.

The writer holds ``fcntl.flock`` on the file ``.lock`` in the folder; the kernel drops it when that
process ends, however it ends (``kill -9`` included), so a lock is never stale. The file also says who
holds it (pid, host, command, since when), for the message a second writer gets. Where the file
system cannot lock, sharpreg works without the lock and logs that it did.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import re
import socket
import time
import weakref
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..errors import RunError

log = logging.getLogger("sharpreg")
LOCK_FILE = ".lock"
#: how long a writer retries when the lock is only being probed by a reader
RETRY_SECONDS = 1.0


@dataclass(frozen=True)
class Holder:
    """Who holds a run folder's lock."""

    pid: int | None
    host: str
    command: str
    since: str

    def __str__(self) -> str:
        who = f"pid {self.pid}" if self.pid is not None else "another process"
        return f"`sharpreg {self.command}` ({who} on {self.host}, since {self.since})"

    @classmethod
    def read(cls, fd: int) -> Holder:
        """The holder recorded in the lock file (sharpreg's own record: only its checked fields are shown)."""
        try:
            data = json.loads(os.pread(fd, 4096, 0).decode("utf-8"))
        except (OSError, ValueError):
            data = {}
        data = data if isinstance(data, dict) else {}

        def text(key: str) -> str:
            value = data.get(key)
            return value if isinstance(value, str) and re.fullmatch(r"[\w.:+\- ]{1,64}", value) else "?"

        pid = data.get("pid")
        return cls(pid if isinstance(pid, int) and not isinstance(pid, bool) else None, text("host"), text("command"),
                   text("since"))


class RunLock:
    """The lock of the run folder ``folder`` (not taken until :meth:`acquire`)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / LOCK_FILE
        self._fd: int | None = None
        self.held = False

    def acquire(self, command: str) -> None:
        """Take the lock for ``command`` (e.g. ``run``), or raise a ``RunError`` naming the holder."""
        if self.held:
            return
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise RunError(f"cannot write to the run folder {self.folder}: {exc.strerror or exc}; it needs write "
                           "access (copy it, or fix its permissions)") from None
        try:
            if not self._lock(fd):
                if os.fstat(fd).st_ino != _inode(self.path):
                    raise RunError(f"{self.folder} changed while it was being locked; try again")
                raise RunError(f"{self.folder} is in use by {Holder.read(fd)}; wait for it to end, or stop that "
                               "process, then try again")
            os.ftruncate(fd, 0)
            record = {"pid": os.getpid(), "host": socket.gethostname()[:64], "command": command,
                      "since": datetime.now().isoformat(timespec="seconds")}
            os.pwrite(fd, json.dumps(record).encode(), 0)
        except BaseException:
            os.close(fd)
            raise
        self._fd, self.held = fd, True
        _HELD.add(self)

    def _lock(self, fd: int) -> bool:
        """Whether the exclusive lock was taken (briefly retried: a reader's probe holds it for microseconds)."""
        deadline = time.monotonic() + RETRY_SECONDS
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.05)
                continue
            except OSError as exc:
                if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                    raise
                log.warning("the file system of %s cannot lock files; nothing stops a second writer", self.folder)
                return True
            if os.fstat(fd).st_ino == _inode(self.path):
                return True
            fcntl.flock(fd, fcntl.LOCK_UN)  # the file was removed while we waited: that lock guards nothing
            return False

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the last descriptor of the lock drops it
        self._fd, self.held = None, False
        _HELD.discard(self)

    def __del__(self) -> None:
        try:
            self.release()
        except Exception:  # at interpreter exit os may be gone; the kernel drops the lock anyway
            pass


#: locks this process holds; a forked child (e.g. a data-loader worker) closes its copies, so that a lock
#: ends with the process that took it and not with the last of its children
_HELD: weakref.WeakSet[RunLock] = weakref.WeakSet()


def _forget_in_child() -> None:
    for lock in list(_HELD):
        if lock._fd is not None:
            os.close(lock._fd)
        lock._fd, lock.held = None, False
    _HELD.clear()


os.register_at_fork(after_in_child=_forget_in_child)


def _inode(path: Path) -> int | None:
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def holder(folder: Path) -> Holder | None:
    """Who writes ``folder`` now, or None when nobody does (a probe: it creates nothing)."""
    try:
        fd = os.open(folder / LOCK_FILE, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return Holder.read(fd)
        except OSError:
            return None
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
