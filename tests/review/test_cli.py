"""restore compare: exit codes and one-line messages."""

from __future__ import annotations

import json

from click.testing import CliRunner

from restore.cli import main
from tests.review.conftest import ffmpeg


def test_compare_writes_the_report_and_says_where(tmp_path):
    before, after = tmp_path / "a.mkv", tmp_path / "b.mkv"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=96x72:rate=25", "-frames:v", "6", "-c:v", "ffv1", str(before))
    ffmpeg("-i", str(before), "-vf", "hflip", "-c:v", "ffv1", str(after))  # a mirrored picture: invented everywhere
    result = CliRunner().invoke(main, ["compare", str(before), str(after), "-o", str(tmp_path / "r"),
                                       "--every", "3", "--no-niqe", "--no-video", "--frames", "1"])
    assert result.exit_code == 0, result.output
    assert f"wrote {tmp_path / 'r' / 'index.html'}" in result.output
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["inventions"]["frames_above_threshold"] == 6
    assert summary["side_by_side"] is None and not (tmp_path / "r" / "side_by_side.mp4").exists()
    assert (tmp_path / "r" / "pairs" / "frame_000001_after.png").is_file()


def test_bad_input_exits_2_with_one_line(tmp_path):
    before = tmp_path / "a.mkv"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=96x72:rate=25", "-frames:v", "6", "-c:v", "ffv1", str(before))
    other = tmp_path / "b.mkv"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=96x72:rate=24", "-frames:v", "6", "-c:v", "ffv1", str(other))
    runner = CliRunner()
    for args, message in (
        ([str(before), str(tmp_path / "missing.mkv")], "input not found"),
        ([str(before), str(before), "--frames", "ten"], "--frames must be frame numbers"),
        ([str(before), str(other)], "only the same rate or field-rate output"),
    ):
        result = runner.invoke(main, ["compare", *args, "-o", str(tmp_path / "r")])
        assert result.exit_code == 2, result.output
        lines = [ln for ln in result.output.splitlines() if ln.strip()]
        assert len(lines) == 1 and message in lines[0]
    assert not (tmp_path / "r").exists()
