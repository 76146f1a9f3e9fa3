"""The external tools restore runs: ffmpeg and ffprobe, at least 5.1, checked once per process.

restore's command lines rely on FFmpeg 5.1 (``-fps_mode``, the ``setparams`` colour fields, the
filters the stages name), Debian 12's release. Older or missing tools would fail later with
an ffmpeg message about an unknown option; this says it in one line first (exit 2).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from functools import lru_cache

from restore.errors import UserError

MINIMUM = (5, 1)
INSTALL_HINT = "install FFmpeg 5.1 or newer (Debian 12 / Ubuntu 24.04: apt-get install ffmpeg) and put it on PATH"


class ToolError(UserError):
    """ffmpeg or ffprobe is missing, unusable, or older than MINIMUM."""


def parse_version(text: str) -> tuple[int, int] | None:
    """(major, minor) from ``ffmpeg -version``'s first line; None for a build that names no release
    (a git snapshot such as ``N-112233-g…``, newer than any release it would be compared with)."""
    match = re.match(r"\s*\S+ version n?(\d+)\.(\d+)", text)
    if match:
        return int(match.group(1)), int(match.group(2))
    match = re.match(r"\s*\S+ version n?(\d+)(?!\d)(?!\.)", text)
    return (int(match.group(1)), 0) if match else None


@lru_cache(maxsize=1)
def require_ffmpeg() -> str:
    """ffmpeg's version string; ToolError (one line) when ffmpeg or ffprobe is missing or too old."""
    wanted = ".".join(map(str, MINIMUM))
    for tool in ("ffmpeg", "ffprobe"):
        if not shutil.which(tool):
            raise ToolError(f"{tool} not found: restore needs FFmpeg >= {wanted}: {INSTALL_HINT}")
    try:
        proc = subprocess.run(["ffmpeg", "-hide_banner", "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolError(f"ffmpeg ({shutil.which('ffmpeg')}) does not run ({exc}): {INSTALL_HINT}") from None
    first = (proc.stdout or "").splitlines()[0] if proc.stdout else ""
    if proc.returncode != 0 or " version " not in first:
        raise ToolError(f"ffmpeg ({shutil.which('ffmpeg')}) did not report its version: {INSTALL_HINT}")
    version = parse_version(first)
    if version is not None and version < MINIMUM:
        raise ToolError(f"ffmpeg {first.split()[2]} ({shutil.which('ffmpeg')}) is older than {wanted}: {INSTALL_HINT}")
    return first.split()[2]
