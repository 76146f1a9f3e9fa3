"""The one clock: timestamps for records, journals and the workbench, and durations as people read them."""

from __future__ import annotations

import datetime


def utc_now() -> datetime.datetime:
    """Now, in UTC, timezone-aware (what records store)."""
    return datetime.datetime.now(datetime.timezone.utc)


def utc_stamp() -> str:
    """Now as ISO 8601 in UTC, to the second: ``2026-12-04T19:05:00+00:00``."""
    return utc_now().isoformat(timespec="seconds")


def hms(seconds: float) -> str:
    """A duration as ``H:MM:SS`` (whole seconds, rounded down)."""
    s = int(seconds)
    return f"{s // 3600:d}:{s // 60 % 60:02d}:{s % 60:02d}"
