"""--start / --duration / --frames: the picture, its sound, its timecode and its record cut together."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest

from restore.media.timing import parse_position, shift_timecode
from tests.conftest import ffmpeg, framemd5, probe_json, run_cli


@pytest.fixture(scope="module")
def counting(tmp_path_factory):
    """4 s at 25 fps whose every frame differs (luma follows the frame number), with sound and a timecode."""
    src = tmp_path_factory.mktemp("trim") / "in.mkv"
    ffmpeg("-f", "lavfi", "-i", "color=s=64x48:r=25:d=4", "-f", "lavfi", "-i", "sine=d=4:sample_rate=48000",
           "-vf", "format=yuv420p,geq=lum='N*2+X':cb=128:cr=128", "-c:v", "ffv1", "-c:a", "pcm_s16le",
           "-timecode", "10:00:00:00", str(src))
    return src


@pytest.mark.parametrize("args", [("--start", "00:00:01:05", "--frames", "20"), ("--start", "30", "--duration", "20"),
                                  ("--start", "1.2s", "--duration", "0.8s")])
def test_trim_keeps_exactly_those_frames_and_cuts_sound_and_timecode(counting, tmp_path, args):
    out = tmp_path / "t.mkv"
    res = run_cli("run", str(counting), "-o", str(out), "-p", "passthrough", "-q", "--no-sign", *args)
    assert res.returncode == 0, res.stderr
    assert framemd5(out) == framemd5(counting)[30:50]
    report = probe_json(out)
    audio = next(s for s in report["streams"] if s["type"] == "audio")
    assert abs(audio["duration"] - 0.8) < 0.03             # cut at the picture, within one audio packet
    assert report["timecode"] == "10:00:01:05"
    record = json.loads(out.with_name("t.mkv.provenance.json").read_text())["record"]
    assert record["trim"] == {"start_frame": 30, "frames": 20, "start_seconds": 1.2, "duration_seconds": 0.8}


@pytest.mark.parametrize("args,fragment", [(("--start", "200"), "past the end"),
                                           (("--start", "90", "--frames", "20"), "past the end"),
                                           (("--duration", "1s", "--frames", "3"), "not both"),
                                           (("--start", "soon"), "--start must be frames"),
                                           (("--start", "00:00:01:30"), "frame 30 does not exist")])
def test_bad_trims_are_one_line(counting, tmp_path, args, fragment):
    res = run_cli("run", str(counting), "-o", str(tmp_path / "t.mkv"), "-p", "passthrough", "-q", *args)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.returncode == 2 and len(lines) == 1 and fragment in lines[0], res.stderr
    assert list(tmp_path.iterdir()) == []


def test_timecode_arithmetic_including_drop_frame():
    ntsc = Fraction(30000, 1001)
    assert parse_position("00:01:00;02", ntsc, "x") == 1800
    assert shift_timecode("00:00:59;29", 1, ntsc) == "00:01:00;02"
    assert shift_timecode("00:09:59;29", 1, ntsc) == "00:10:00;00"
    assert shift_timecode("01:00:00;00", 1800, ntsc) == "01:01:00;02"
    assert shift_timecode("23:59:59:24", 1, Fraction(25)) == "00:00:00:00"


def test_a_trimmed_run_reviews_against_its_stretch_of_the_source(counting, tmp_path):
    """--report after --start/--frames pairs each restored frame with the source frame it came from
    (the frame log's source_index), not with the whole source's first frames."""
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text("name: trim-review\nstages:\n  - stage: deflicker\n")
    out, report = tmp_path / "t.mkv", tmp_path / "report"
    res = run_cli("run", str(counting), "-o", str(out), "-p", str(pipeline), "-q", "--no-sign",
                  "--start", "40", "--frames", "12", "--report", str(report))
    assert res.returncode == 0, res.stderr
    summary = json.loads((report / "summary.json").read_text())
    assert summary["frames"] == 12
    assert summary["source_frames"] == 52                # the last paired source frame is 51
    log = [json.loads(line) for line in out.with_name("t.mkv.frames.jsonl").read_text().splitlines()]
    assert [e["source_index"] for e in log] == list(range(40, 52))
