"""Helpers shared by the benchmarks: test clips, peak memory of a child process, tables."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
WORK = REPO / "benchmarks" / "results"


def workdir(name: str) -> Path:
    path = WORK / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def synthetic_clip(path: Path, seconds: float, size: str = "720x576", rate: str = "25", audio: bool = True) -> Path:
    """A PAL-like interlaced test clip with sound (lavfi testsrc2 + sine), made once and reused."""
    if path.exists():
        return path
    args = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:d={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=f=440:d={seconds}:sample_rate=48000", "-c:a", "pcm_s16le"]
    args += ["-vf", "setfield=tff", "-c:v", "ffv1", "-pix_fmt", "yuv422p", str(path)]
    subprocess.run(args, check=True)
    return path


def run_measured(args: list[str]) -> tuple[float, int, subprocess.CompletedProcess]:
    """Run ``restore ARGS`` in a child: (wall seconds, peak RSS in bytes, completed process)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "restore.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=REPO)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    out, err = proc.stdout.read(), proc.stderr.read()
    wall = time.perf_counter() - t0
    # ru_maxrss is in KiB on Linux; ffmpeg children are not counted: their memory is bounded by design
    return wall, usage.ru_maxrss * 1024, subprocess.CompletedProcess(args, proc.returncode, out, err)


def table(headers: list[str], rows: list[list]) -> str:
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(r, widths)) for r in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
    return str(value)


def need_shared(what: str) -> bool:
    if not SHARED.is_dir():
        print(f"skipped: {what} needs ../shared")
        return False
    return True
