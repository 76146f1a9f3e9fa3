"""Bad input: exit code 2 and one clear line, no traceback; nothing half-written, inputs never overwritten."""

from __future__ import annotations

import shutil
from pathlib import Path


from tests.conftest import ffmpeg, framemd5, run_cli, sha256


def _one_line_error(res, code: int, fragment: str) -> None:
    assert res.returncode == code, (res.returncode, res.stderr)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, res.stderr
    assert fragment in lines[0], lines[0]
    assert "Traceback" not in res.stderr


def test_missing_input(tmp_path):
    _one_line_error(run_cli("run", str(tmp_path / "nope.mkv"), "-o", str(tmp_path / "o.mkv")), 2, "input not found")


def test_zero_byte_input(tmp_path):
    src = tmp_path / "empty.mkv"
    src.touch()
    _one_line_error(run_cli("run", str(src), "-o", str(tmp_path / "o.mkv")), 2, "empty (0 bytes)")


def test_not_a_video(tmp_path):
    src = tmp_path / "notes.mkv"
    src.write_text("this is not a video\n" * 100)
    _one_line_error(run_cli("run", str(src), "-o", str(tmp_path / "o.mkv")), 2, "not a media file")


def test_audio_only(tmp_path):
    src = tmp_path / "speech.wav"
    ffmpeg("-f", "lavfi", "-i", "sine=d=1", str(src))
    _one_line_error(run_cli("run", str(src), "-o", str(tmp_path / "o.mkv")), 2, "no video stream")


def test_unsupported_pixel_format(tmp_path):
    src = tmp_path / "palette.nut"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x48:d=0.2", "-c:v", "rawvideo", "-pix_fmt", "pal8", str(src))
    _one_line_error(run_cli("run", str(src), "-o", str(tmp_path / "o.mkv")), 2, "unsupported pixel format 'pal8'")


def test_odd_dimensions_in_420(tmp_path):
    """FFV1 keeps odd 4:2:0 frames exactly; H.264 cannot hold them, and says so before any work."""
    src = tmp_path / "odd420.nut"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120:d=0.2", "-vf", "scale=161:121", "-c:v", "rawvideo",
           "-pix_fmt", "yuv420p", str(src))
    _one_line_error(run_cli("run", str(src), "-o", str(tmp_path / "o.mp4"), "-p", "passthrough"), 2,
                    "odd frame size 161x121")
    res = run_cli("run", str(src), "-o", str(tmp_path / "o.mkv"), "-p", "passthrough", "-q", "--no-sign")
    assert res.returncode == 0, res.stderr
    assert framemd5(tmp_path / "o.mkv") == framemd5(src)


def test_truncated_input_is_refused_not_shortened(clips, tmp_path):
    src = tmp_path / "cut.mkv"
    data = clips["pal"].read_bytes()
    src.write_bytes(data[: len(data) // 2])
    out = tmp_path / "o.mkv"
    _one_line_error(run_cli("run", str(src), "-o", str(out), "-p", "passthrough", "--no-sign"), 2, "truncated")
    assert not out.exists()
    assert not list(tmp_path.glob(".o.partial*"))


def test_output_folder_missing(clips, tmp_path):
    _one_line_error(run_cli("run", str(clips["noaudio"]), "-o", str(tmp_path / "no" / "such" / "o.mkv")), 2,
                    "output folder does not exist")


def test_existing_output_needs_overwrite_and_input_is_never_overwritten(clips, tmp_path):
    src = tmp_path / "in.mkv"
    shutil.copy(clips["noaudio"], src)
    digest = sha256(src)
    out = tmp_path / "exists.mkv"
    out.write_bytes(b"keep me")
    _one_line_error(run_cli("run", str(src), "-o", str(out), "-p", "passthrough"), 2, "output exists")
    assert out.read_bytes() == b"keep me"
    _one_line_error(run_cli("run", str(src), "-o", str(src), "-p", "passthrough", "--overwrite"), 2,
                    "refusing to write over the input")
    assert sha256(src) == digest


def test_unknown_output_type(clips, tmp_path):
    _one_line_error(run_cli("run", str(clips["noaudio"]), "-o", str(tmp_path / "o.avi")), 2, "unsupported output type")


def test_unknown_pipeline_and_bad_pipeline_file(clips, tmp_path):
    _one_line_error(run_cli("run", str(clips["noaudio"]), "-o", str(tmp_path / "o.mkv"), "-p", "nonesuch"), 2,
                    "unknown pipeline 'nonesuch'")
    bad = tmp_path / "bad.yaml"
    bad.write_text("stages:\n  - stage: passthrough-nonexistent\n")
    _one_line_error(run_cli("run", str(clips["noaudio"]), "-o", str(tmp_path / "o.mkv"), "-p", str(bad)), 2,
                    "stages[0].stage: unknown stage")


def test_probe_of_missing_file_is_one_line(tmp_path):
    _one_line_error(run_cli("probe", str(tmp_path / "x.mkv")), 2, "input not found")


def test_internal_error_exits_1_and_names_the_log(clips, tmp_path):
    """A stage that breaks is our bug, not the user's: exit 1, one line naming stage, frame and log file."""
    stage_dir = tmp_path / "plugin"
    stage_dir.mkdir()
    (stage_dir / "sitecustomize.py").write_text(
        "from dataclasses import dataclass\n"
        "from restore.pipeline.registry import register_stage\n"
        "from restore.stages.base import FrameStage\n"
        "@dataclass(frozen=True)\nclass P:\n    pass\n"
        "@register_stage\nclass Broken(FrameStage):\n    name = 'broken-for-test'\n    Params = P\n"
        "    def process(self, frame):\n"
        "        if frame.index == 3:\n            raise ZeroDivisionError('division by zero')\n"
        "        return frame\n")
    pipeline = tmp_path / "broken.yaml"
    pipeline.write_text("stages:\n  - stage: broken-for-test\n")
    out = tmp_path / "o.mkv"
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    env = dict(os.environ, PYTHONPATH=f"{stage_dir}:{REPO}")
    res = subprocess.run([sys.executable, "-m", "restore.cli", "run", str(clips["noaudio"]), "-o", str(out),
                          "-p", str(pipeline), "--no-sign"], capture_output=True, text=True, env=env, cwd=REPO)
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("restore:")]
    assert res.returncode == 1, res.stderr
    assert len(lines) == 1 and "stage 'broken-for-test' failed on frame 3" in lines[0]
    log = Path(lines[0].rsplit("details in ", 1)[1].rstrip(")"))
    assert log.exists() and "ZeroDivisionError" in log.read_text()
    assert "Traceback" not in res.stderr
    assert not out.exists() and not list(tmp_path.glob(".o.partial*"))
