"""An interrupted run never leaves a file under the final name, and the next run starts clean."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, make_clip, run_cli


def _start(src: Path, out: Path, pipeline: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "restore.cli", "run", str(src), "-o", str(out), "-p", str(pipeline),
                             "--no-sign", "--log-json"], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for_frames(proc: subprocess.Popen, n: int) -> None:
    for line in proc.stderr:
        if '"frames": ' in line and int(line.split('"frames": ')[1].split(",")[0]) >= n:
            return
    raise AssertionError("the run ended before it was interrupted")


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_interrupted_run_leaves_no_final_file(tmp_path, sig):
    src = make_clip(tmp_path / "long.mkv", size="320x240", seconds=12, audio_tracks=1, field="prog")
    out = tmp_path / "restored.mkv"
    pipeline = tmp_path / "slowish.yaml"
    pipeline.write_text("stages:\n  - stage: deflicker\n    radius: 20\n    mode: local\n")
    proc = _start(src, out, pipeline)
    _wait_for_frames(proc, 20)
    proc.send_signal(sig)
    proc.wait(timeout=60)
    assert proc.returncode != 0
    assert not out.exists()
    leftovers = list(tmp_path.glob(".restored.partial-*"))
    if sig == signal.SIGTERM:
        assert leftovers == []          # cleaned up on the way out
    # the next run removes a killed run's leftovers and completes
    res = run_cli("run", str(src), "-o", str(out), "-p", "passthrough", "-q", "--no-sign")
    assert res.returncode == 0, res.stderr
    assert out.exists() and list(tmp_path.glob(".restored.partial-*")) == []
