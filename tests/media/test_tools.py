"""ffmpeg >= 5.1 is checked once, and a missing or older one is one clear line (exit 2)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from restore.media import tools
from tests.conftest import REPO


def fake_tools(folder: Path, version_line: str) -> Path:
    """An ffmpeg that only prints VERSION_LINE, and an ffprobe beside it, first on PATH."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("ffmpeg", "ffprobe"):
        script = folder / name
        script.write_text(f"#!/bin/sh\necho '{version_line.replace('ffmpeg', name, 1)}'\n")
        script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return folder


@pytest.mark.parametrize("line, expected", [
    ("ffmpeg version 5.1.6-0+deb12u1 Copyright (c) 2000-2024 the FFmpeg developers", (5, 1)),
    ("ffmpeg version n6.1.1 Copyright (c) 2000-2023 the FFmpeg developers", (6, 1)),
    ("ffmpeg version 4.4.2-0ubuntu0.22.04.1 Copyright (c) 2000-2021 the FFmpeg developers", (4, 4)),
    ("ffmpeg version 7.1 Copyright (c) 2000-2024 the FFmpeg developers", (7, 1)),
    ("ffmpeg version N-112233-g0123456789 Copyright (c) 2000-2024 the FFmpeg developers", None),
])
def test_parse_version(line, expected):
    assert tools.parse_version(line) == expected


@pytest.fixture
def fresh_check():
    tools.require_ffmpeg.cache_clear()
    yield
    tools.require_ffmpeg.cache_clear()


def test_old_ffmpeg_is_refused_in_one_line(tmp_path, monkeypatch, fresh_check):
    fake = fake_tools(tmp_path / "bin", "ffmpeg version 4.4.2-0ubuntu0.22.04.1 Copyright (c) 2000-2021")
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(tools.ToolError) as info:
        tools.require_ffmpeg()
    message = str(info.value)
    assert "ffmpeg 4.4.2-0ubuntu0.22.04.1" in message and "older than 5.1" in message and "\n" not in message
    assert info.value.exit_code == 2


def test_missing_ffprobe_is_named(tmp_path, monkeypatch, fresh_check):
    fake = fake_tools(tmp_path / "bin", "ffmpeg version 6.0 Copyright")
    (fake / "ffprobe").unlink()
    monkeypatch.setenv("PATH", str(fake))
    with pytest.raises(tools.ToolError, match="ffprobe not found"):
        tools.require_ffmpeg()


def test_installed_ffmpeg_passes_and_is_checked_once(fresh_check, monkeypatch):
    version = tools.require_ffmpeg()
    assert tools.parse_version(f"ffmpeg version {version}") is None or tools.parse_version(f"ffmpeg version {version}") >= (5, 1)
    monkeypatch.setenv("PATH", "")          # cached: no second look
    assert tools.require_ffmpeg() == version


def test_cli_exits_2_with_one_line(tmp_path, clips):
    fake = fake_tools(tmp_path / "bin", "ffmpeg version 4.3.1 Copyright (c) 2000-2020")
    env = dict(os.environ, PATH=f"{fake}{os.pathsep}{os.environ['PATH']}", PYTHONPATH=str(REPO))
    res = subprocess.run([sys.executable, "-m", "restore.cli", "probe", str(clips["noaudio"])],
                         capture_output=True, text=True, cwd=REPO, env=env, timeout=120)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("restore: error: ffmpeg 4.3.1") and "5.1" in lines[0], res.stderr
