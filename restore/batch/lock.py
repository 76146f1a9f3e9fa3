"""The work-folder lock lives in ``restore.lock`` (whole-file runs lock their output too)."""

from restore.lock import LockedError, WorkLock, output_lock

__all__ = ["LockedError", "WorkLock", "output_lock"]
