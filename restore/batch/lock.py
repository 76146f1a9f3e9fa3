"""One writer per work folder: an advisory ``flock`` that the kernel drops when its holder dies.

A PID file alone is not enough (PIDs are reused after a reboot, and a killed process
cannot remove its file); ``flock`` is released by the kernel on ``kill -9`` and power
loss, so a resumed run never waits for a dead one, while a live second run is refused.
"""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

from restore.errors import UserError


class LockedError(UserError):
    """Another restore process is working on the same job."""


class WorkLock:
    def __init__(self, path: Path, what: str):
        self.path = Path(path)
        self.what = what
        self._fd: int | None = None

    def acquire(self) -> "WorkLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _read_holder(fd)
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EACCES):
                raise LockedError(f"{self.what} is being worked on by another restore process{holder} "
                                  f"(lock {self.path}): wait for it to finish") from None
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "WorkLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _read_holder(fd: int) -> str:
    try:
        pid = os.pread(fd, 32, 0).decode().strip()
    except OSError:
        return ""
    return f" (pid {pid})" if pid.isdigit() else ""
