"""--preview N: N frames spread over the source, each restored with its pipeline's temporal context, into the
review report; the same pixels a whole run makes for those frames, and no output."""

from __future__ import annotations

import json

import cv2
import numpy as np

from restore.preview import preview_positions
from tests.conftest import ffmpeg, run_cli


def test_preview_positions_are_spread_evenly():
    assert preview_positions(30, 3) == [5, 15, 25]
    assert preview_positions(100, 4) == [12, 37, 62, 87]
    assert preview_positions(2, 5) == [0, 1]


def test_preview_of_three_frames_equals_those_frames_of_a_whole_run(tmp_path):
    src = tmp_path / "in.mkv"
    # exposure pumping frame to frame: deflicker (±2 frames) changes every frame, by its neighbours
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=96x64:r=25:d=1.2", "-vf",
           "format=yuv420p,eq=brightness='0.1*sin(n)':eval=frame", "-c:v", "ffv1", str(src))
    pipeline = tmp_path / "dfl.yaml"
    pipeline.write_text("name: dfl\ndescription: deflicker only\nstages:\n  - stage: deflicker\n    radius: 2\n")
    report = tmp_path / "report"
    res = run_cli("run", str(src), "-p", str(pipeline), "--preview", "3", "--report", str(report))
    assert res.returncode == 0, res.stderr
    assert "previewed source frames 5, 15, 25" in res.stdout and "no output written" in res.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dfl.yaml", "in.mkv", "report"]   # no output
    summary = json.loads((report / "summary.json").read_text())
    assert summary["preview"]["source_frames"] == [5, 15, 25] and summary["frames"] == 3
    assert (summary["preview"]["context_behind"], summary["preview"]["context_ahead"]) == (2, 2)
    shown = json.loads((report / "preview" / "preview.json").read_text())
    assert shown["files"] == ["frame_0000005.png", "frame_0000015.png", "frame_0000025.png"]

    full = tmp_path / "full.mkv"
    kept = tmp_path / "kept"
    res = run_cli("run", str(src), "-p", str(pipeline), "-o", str(full), "--keep-frames", str(kept), "-q", "--no-sign")
    assert res.returncode == 0, res.stderr
    for name in shown["files"]:
        assert (report / "preview" / name).read_bytes() == (kept / name).read_bytes(), name
    # the context matters: frame 15 restored alone (no neighbours) is not what the whole run made
    alone = tmp_path / "alone"
    res = run_cli("run", str(src), "-p", str(pipeline), "-o", str(tmp_path / "a.mkv"), "--start", "15", "--frames",
                  "1", "--keep-frames", str(alone), "-q", "--no-sign")
    assert res.returncode == 0, res.stderr
    one = cv2.imread(str(alone / "frame_0000015.png")).astype(int)
    whole = cv2.imread(str(kept / "frame_0000015.png")).astype(int)
    assert np.abs(one - whole).mean() > 0.5


def test_preview_needs_a_report_and_writes_no_output(tmp_path):
    src = tmp_path / "in.mkv"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=64x48:r=25:d=0.4", "-c:v", "ffv1", str(src))
    for args, fragment in ((["--preview", "2"], "give --report DIR"),
                           (["--preview", "2", "--report", str(tmp_path / "r"), "-o", str(tmp_path / "o.mkv")],
                            "writes no output"),
                           ([], "give the output with -o")):
        res = run_cli("run", str(src), "-p", "passthrough", *args)
        lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
        assert res.returncode == 2 and len(lines) == 1 and fragment in lines[0], res.stderr
