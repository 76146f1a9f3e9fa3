"""Archive-grade I/O: every frame, every audio sample, timecode, field order and colour tags survive."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from restore.job import JobOptions, run_job
from restore.media.decode import read_frames
from restore.pipeline.registry import register_stage
from restore.pipeline.spec import parse_pipeline
from restore.stages.base import FrameStage
from tests.conftest import ffmpeg, framemd5, probe_json, run_cli, stream_hash


def _video(report: dict) -> dict:
    return next(s for s in report["streams"] if s["type"] == "video")


def _audio(report: dict) -> list[dict]:
    return [s for s in report["streams"] if s["type"] == "audio"]


def test_probe_reports_pal_facts(clips):
    report = probe_json(clips["pal"])
    v = _video(report)
    assert (v["width"], v["height"], v["pix_fmt"], v["bit_depth"]) == (720, 576, "yuv422p", 8)
    assert v["r_frame_rate"] == "25/1" and v["avg_frame_rate"] == "25/1"
    assert v["frame_count"] == 25 and v["frame_count_method"] == "decoded"  # Matroska stores no count
    assert v["field_order"] in ("tt", "tb")
    assert (v["color_primaries"], v["color_space"], v["color_range"]) == ("bt470bg", "bt470bg", "tv")
    assert report["timecode"] == "10:00:00:00"
    audio = _audio(report)
    assert [a["language"] for a in audio] == ["eng", "fra"]
    assert audio[1]["title"] == "Interpreter"
    assert audio[0]["sample_rate"] == 48000 and audio[0]["channels"] == 1


def test_probe_reports_ntsc_rational_rate_and_bff(clips):
    v = _video(probe_json(clips["ntsc"]))
    assert v["r_frame_rate"] == "30000/1001"
    assert v["field_order"] in ("bb", "bt")
    assert v["frame_count"] == 30


def test_passthrough_mkv_is_bit_exact_with_sound_timecode_fields_and_colour(clips, tmp_path):
    src = clips["pal"]
    out = tmp_path / "pal.out.mkv"
    res = run_cli("run", str(src), "-o", str(out), "-p", "passthrough", "--quiet", "--no-sign")
    assert res.returncode == 0, res.stderr
    assert framemd5(out) == framemd5(src) and len(framemd5(out)) == 25
    for a in ("a:0", "a:1"):
        assert stream_hash(out, a) == stream_hash(src, a)
    before, after = probe_json(src), probe_json(out)
    vb, va = _video(before), _video(after)
    for key in ("width", "height", "pix_fmt", "r_frame_rate", "field_order", "color_primaries", "color_transfer",
                "color_space", "color_range", "sar"):
        assert va[key] == vb[key], key
    assert after["timecode"] == "10:00:00:00"
    assert [(a["language"], a["title"]) for a in _audio(after)] == [(a["language"], a["title"]) for a in _audio(before)]
    assert va["codec"] == "ffv1"


def test_passthrough_keeps_ten_bits(clips, tmp_path):
    out = tmp_path / "tenbit.out.mkv"
    assert run_cli("run", str(clips["tenbit"]), "-o", str(out), "-p", "passthrough", "-q", "--no-sign").returncode == 0
    assert _video(probe_json(out))["pix_fmt"] == "yuv422p10le"
    assert framemd5(out) == framemd5(clips["tenbit"])


def test_mp4_access_copy_keeps_rate_fields_timecode_and_says_what_it_reencoded(clips, tmp_path):
    out = tmp_path / "ntsc.mp4"
    res = run_cli("run", str(clips["ntsc"]), "-o", str(out), "-p", "passthrough", "--no-sign")
    assert res.returncode == 0, res.stderr
    assert "re-encoded to AAC" in res.stdout  # PCM cannot go into MP4, and we say so
    report = probe_json(out)
    v = _video(report)
    assert v["codec"] == "h264" and v["pix_fmt"] == "yuv420p"
    assert v["r_frame_rate"] == "30000/1001" and v["frame_count"] == 30
    assert v["field_order"] in ("bb", "bt")
    assert v["color_space"] == "smpte170m"
    assert report["timecode"] == "01:00:00;00"
    assert _audio(report)[0]["codec"] == "aac" and _audio(report)[0]["language"] == "eng"


def test_variable_frame_rate_is_conformed_without_drift(tmp_path):
    src = tmp_path / "vfr.mkv"
    # first second at 25 fps, then frames 60 ms apart: 2.5 s of video, with 2.5 s of sound
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:d=2", "-f", "lavfi", "-i",
           "sine=f=440:d=2.5:sample_rate=48000", "-map", "0:v", "-map", "1:a",
           # a millisecond time base: with the encoder's own 1/25 the 60 ms steps would round to whole frames,
           # which is a constant-rate stream with frames missing (tests/media/test_bad_inputs.py), not VFR
           "-vf", "settb=1/1000,setpts='(N/25 + if(gte(N,25), (N-25)*0.02, 0))/TB'", "-fps_mode", "vfr",
           "-enc_time_base", "1/1000", "-c:v", "ffv1", "-c:a", "pcm_s16le", str(src))
    out = tmp_path / "vfr.out.mkv"
    res = run_cli("run", str(src), "-o", str(out), "-p", "passthrough", "--no-sign")
    assert res.returncode == 0, res.stderr
    assert "variable frame rate" in res.stdout
    v = _video(probe_json(out))
    assert v["r_frame_rate"] == "25/1"
    src_duration = _video(probe_json(src))["duration"]
    assert abs(v["frame_count"] / 25 - src_duration) <= 1 / 25 + 1e-6
    assert stream_hash(out, "a:0") == stream_hash(src, "a:0")


@dataclass(frozen=True)
class _NoParams:
    pass


@register_stage
class IdentityForTest(FrameStage):
    """A real stage that returns a copy of its input: exercises the RGB path end to end."""

    name = "identity-for-test"
    Params = _NoParams

    def process(self, frame):
        return frame.with_image(frame.image.copy())


def _identity_pipeline():
    return parse_pipeline("stages:\n  - stage: identity-for-test\n", source="test.yaml")


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(1.0 / mse)


def test_rgb_path_is_near_lossless_and_keeps_tags(clips, tmp_path):
    spec = _identity_pipeline()
    out = tmp_path / "rgb.mkv"
    result = run_job(clips["pal"], out, spec, JobOptions(provenance=False))
    assert (result.frames_in, result.frames_out) == (25, 25)
    src_frames = list(read_frames(clips["pal"]))
    out_frames = list(read_frames(out))
    assert len(out_frames) == 25
    assert min(_psnr(a.image, b.image) for a, b in zip(src_frames, out_frames)) > 40.0
    v = _video(probe_json(out))
    assert (v["pix_fmt"], v["field_order"], v["color_space"]) == ("yuv422p", _video(probe_json(clips["pal"]))["field_order"], "bt470bg")
    assert stream_hash(out, "a:1") == stream_hash(clips["pal"], "a:1")


def test_keep_frames_writes_every_frame_with_a_manifest(clips, tmp_path):
    spec = _identity_pipeline()
    frames_dir = tmp_path / "frames"
    run_job(clips["noaudio"], tmp_path / "o.mkv", spec, JobOptions(provenance=False, keep_frames=frames_dir))
    pngs = sorted(frames_dir.glob("frame_*.png"))
    assert len(pngs) == 25
    rows = (frames_dir / "manifest.tsv").read_text().splitlines()[1:]
    assert len(rows) == 25
    import hashlib

    index, _, pts, name, digest = rows[3].split("\t")
    assert (int(index), Fraction(pts), name) == (3, Fraction(3, 25), "frame_0000003.png")
    assert hashlib.sha256((frames_dir / name).read_bytes()).hexdigest() == digest


def test_odd_size_444_passes_into_mkv_and_is_refused_for_h264(clips, tmp_path):
    out = tmp_path / "odd.mkv"
    assert run_cli("run", str(clips["odd"]), "-o", str(out), "-p", "passthrough", "-q", "--no-sign").returncode == 0
    assert framemd5(out) == framemd5(clips["odd"])
    res = run_cli("run", str(clips["odd"]), "-o", str(tmp_path / "odd.mp4"), "-p", "passthrough", "--no-sign")
    assert res.returncode == 2 and "odd frame size 321x241" in res.stderr
    assert not (tmp_path / "odd.mp4").exists()


def test_no_audio_clip_runs_and_stays_silent(clips, tmp_path):
    out = tmp_path / "na.mkv"
    assert run_cli("run", str(clips["noaudio"]), "-o", str(out), "-p", "passthrough", "-q", "--no-sign").returncode == 0
    report = probe_json(out)
    assert not _audio(report) and _video(report)["frame_count"] == 25


def test_subtitles_are_copied_into_mkv_and_converted_for_mp4(clips, tmp_path):
    srt = tmp_path / "speech.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:00,800\nMembers of this house\n")
    src = tmp_path / "subs.mkv"
    ffmpeg("-i", str(clips["noaudio"]), "-i", str(srt), "-map", "0", "-map", "1", "-c", "copy",
           "-metadata:s:s:0", "language=eng", str(src))
    out = tmp_path / "subs.out.mkv"
    assert run_cli("run", str(src), "-o", str(out), "-p", "passthrough", "-q", "--no-sign").returncode == 0
    assert stream_hash(out, "s:0") == stream_hash(src, "s:0")
    subs = [s for s in probe_json(out)["streams"] if s["type"] == "subtitle"]
    assert [(s["codec"], s["language"]) for s in subs] == [("subrip", "eng")]
    res = run_cli("run", str(src), "-o", str(tmp_path / "subs.mp4"), "-p", "passthrough", "--no-sign")
    assert res.returncode == 0 and "converted to mov_text" in res.stdout
    assert [s["codec"] for s in probe_json(tmp_path / "subs.mp4")["streams"] if s["type"] == "subtitle"] == ["mov_text"]


def test_attachments_keep_their_names_so_a_restored_master_can_be_restored_again(clips, tmp_path):
    """Matroska refuses an attachment without its mimetype; -map_metadata -1 used to drop it."""
    note = tmp_path / "notes.json"
    note.write_text('{"reel": 42}\n')
    src = tmp_path / "attached.mkv"
    ffmpeg("-i", str(clips["noaudio"]), "-map", "0", "-c", "copy", "-attach", str(note),
           "-metadata:s:t:0", "mimetype=application/json", "-metadata:s:t:0", "filename=notes.json", str(src))
    out = tmp_path / "attached.out.mkv"
    run_job(src, out, _identity_pipeline(), JobOptions(provenance=False))
    (attachment,) = [s for s in probe_json(out)["streams"] if s["type"] == "attachment"]
    assert (attachment["filename"], attachment["mimetype"]) == ("notes.json", "application/json")
