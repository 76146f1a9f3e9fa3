"""One writer per output and per work folder: an advisory ``flock`` that the kernel drops when its
holder dies.

A PID file alone is not enough (PIDs are reused after a reboot, and a killed process
cannot remove its file); ``flock`` is released by the kernel on ``kill -9`` and power
loss, so a resumed run never waits for a dead one, while a live second run is refused.
Two ``restore run --overwrite`` to one output would otherwise both write, and each
publish a file whose record the other's sidecars then contradict.
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
    """``remove=True``: the lock file is deleted on release (a lock beside an output should not stay
    behind). Deleting a lock file races with a process that opened it just before; so a holder checks,
    after locking, that the name still leads to the file it locked, and starts over when it does not."""

    def __init__(self, path: Path, what: str, remove: bool = False):
        self.path = Path(path)
        self.what = what
        self.remove = remove
        self._fd: int | None = None

    def acquire(self) -> "WorkLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            try:
                # O_NOFOLLOW: a symlink planted under the lock's name is refused, never followed
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise UserError(f"{self.path} is a symbolic link: refusing to use it as a lock") from None
                raise UserError(f"cannot create the lock {self.path}: {exc.strerror}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                holder = _read_holder(fd)
                os.close(fd)
                if exc.errno in (errno.EWOULDBLOCK, errno.EACCES):
                    raise LockedError(f"{self.what} is being worked on by another restore process{holder} "
                                      f"(lock {self.path}): wait for it to finish") from None
                raise
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path, follow_symlinks=False))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)      # the holder before us removed it after we opened it: lock the new one
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            if self.remove:
                try:
                    self.path.unlink()   # while still holding it: a waiter then re-checks and retries
                except FileNotFoundError:
                    pass
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


def output_lock(output: Path) -> WorkLock:
    """The lock every run takes on its output (``.NAME.lock`` beside it, removed afterwards)."""
    output = Path(output)
    return WorkLock(output.with_name(f".{output.name}.lock"), f"the output {output}", remove=True)
