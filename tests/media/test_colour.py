"""Colour and depth of what we write: explicit tags on every master and access copy, the right matrix
at each YUV↔RGB conversion (SD BT.601 → HD BT.709), output.bit_depth honoured, levels exact."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from restore.errors import PipelineError
from restore.frame import VideoFormat
from restore.job import JobOptions, run_job
from restore.media.decode import read_frames
from restore.metrics import luma, psnr_y
from restore.pipeline.registry import register_stage
from restore.pipeline.spec import parse_pipeline
from restore.stages.base import FrameStage
from tests.conftest import framemd5, make_clip

TAGS = ("color_primaries", "color_transfer", "color_space", "color_range")


def ffprobe_video(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "stream=pix_fmt,width,height," + ",".join(TAGS), "-of", "default=nw=1", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def tags(path: Path) -> tuple[str, ...]:
    v = ffprobe_video(path)
    return tuple(v.get(k, "unknown") for k in TAGS)


def decode_as(path: Path, matrix: str) -> list[np.ndarray]:
    """RGB frames decoded with the given matrix whatever the file says (accurate swscale, 8-bit RGB)."""
    v = ffprobe_video(path)
    w, h = int(v["width"]), int(v["height"])
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-sws_flags", "accurate_rnd+full_chroma_int",
                          "-vf", f"scale=in_color_matrix={matrix}:in_range=tv:out_range=pc,format=rgb24",
                          "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    return list(np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3).astype(np.float32) / 255)


def y_plane_mean(path: Path) -> float:
    """Mean of the stored luma samples, on the 8-bit scale (no RGB conversion involved)."""
    v = ffprobe_video(path)
    deep = "10" in v["pix_fmt"]
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-vf", "extractplanes=y", "-f", "rawvideo",
                          "-pix_fmt", "gray10le" if deep else "gray", "-"], capture_output=True, check=True).stdout
    y = np.frombuffer(raw, "<u2" if deep else np.uint8).astype(np.float64)
    return float(y.mean() / (4 if deep else 1))


@dataclass(frozen=True)
class _NoParams:
    pass


@register_stage
class UpscaleForTest(FrameStage):
    """Bicubic ×2 to HD-sized frames (square pixels): an upscale that must change no colour."""

    name = "upscale-for-test"
    Params = _NoParams

    def output_format(self, fmt: VideoFormat) -> VideoFormat:
        return fmt.replace(width=fmt.width * 2, height=fmt.height * 2)

    def process(self, frame):
        h, w = frame.image.shape[:2]
        return frame.with_image(np.clip(cv2.resize(frame.image, (2 * w, 2 * h), interpolation=cv2.INTER_CUBIC), 0, 1))


@register_stage
class CopyForTest(FrameStage):
    name = "copy-for-test"
    Params = _NoParams

    def process(self, frame):
        return frame.with_image(frame.image.copy())


def _spec(stage: str | None, output: str = "") -> object:
    text = (f"output:\n{output}" if output else "") + ("stages: []\n" if stage is None else
                                                      f"stages:\n  - stage: {stage}\n")
    return parse_pipeline(text, source="test.yaml")


@pytest.fixture(scope="module")
def untagged(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("untagged")
    common = dict(seconds=0.2, audio_tracks=0, timecode=None, colour=None, pix_fmt="yuv420p")
    return {
        "pal": make_clip(d / "pal.mkv", size="720x576", field="tff", **common),
        "ntsc": make_clip(d / "ntsc.mkv", size="720x480", rate="30000/1001", field="bff", **common),
        "hd": make_clip(d / "hd.mkv", size="1280x720", field="prog", **common),
        # small and colourful (testsrc2's saturated bars): where a wrong matrix shows most
        "small": make_clip(d / "small.mkv", size="352x288", field="prog", **common),
    }


@pytest.mark.parametrize("clip, expected", [
    ("pal", ("bt470bg", "smpte170m", "bt470bg", "tv")),
    ("ntsc", ("smpte170m", "smpte170m", "smpte170m", "tv")),
    ("hd", ("bt709", "bt709", "bt709", "tv")),
])
def test_untagged_source_gets_explicit_tags_and_a_note(untagged, tmp_path, clip, expected):
    assert tags(untagged[clip])[:3] == ("unknown", "unknown", "unknown")
    out = tmp_path / f"{clip}.mkv"
    result = run_job(untagged[clip], out, _spec(None), JobOptions(provenance=False))
    assert tags(out) == expected
    assert framemd5(out) == framemd5(untagged[clip])          # tagging is not converting
    (note,) = [n for n in result.notes if n.startswith("colour:")]
    assert "no colour tags" in note and "assumed" in note
    assert result.record["colour"]["source"] == dict(zip(("primaries", "transfer", "matrix", "range"), expected))
    assert result.record["colour"]["notes"] == [note]


def test_tagged_source_is_kept_without_a_note(clips, tmp_path):
    out = tmp_path / "pal.mkv"
    result = run_job(clips["pal"], out, _spec(None), JobOptions(provenance=False))
    assert tags(out) == ("bt470bg", "bt709", "bt470bg", "tv")      # exactly the source's
    assert not [n for n in result.notes if n.startswith("colour:")]


@pytest.mark.parametrize("suffix, codec", [(".mp4", "h264"), (".mp4", "h265"), (".mkv", "h264")])
def test_access_copies_carry_tags(untagged, tmp_path, suffix, codec):
    out = tmp_path / f"access{suffix}"
    run_job(untagged["pal"], out, _spec(None), JobOptions(provenance=False, codec=codec))
    assert tags(out) == ("bt470bg", "smpte170m", "bt470bg", "tv")


def test_sd_to_hd_converts_the_matrix_and_changes_no_colour(untagged, tmp_path):
    src = untagged["small"]
    out = tmp_path / "hd.mkv"
    spec = parse_pipeline("stages:\n  - upscale-for-test\n  - upscale-for-test\n", source="t.yaml")  # 1408x1152
    result = run_job(src, out, spec, JobOptions(provenance=False))
    assert tags(out) == ("bt470bg", "smpte170m", "bt709", "tv")
    assert any("bt709 matrix" in n for n in result.notes)
    source = decode_as(src, "bt601")
    right = [cv2.resize(f, source[0].shape[1::-1], interpolation=cv2.INTER_AREA) for f in decode_as(out, "bt709")]
    wrong = [cv2.resize(f, source[0].shape[1::-1], interpolation=cv2.INTER_AREA) for f in decode_as(out, "bt601")]
    # read with its tag, the HD master has the source's colours (only the upscale's softness differs) …
    assert min(psnr_y(a, b, 8) for a, b in zip(right, source)) > 30
    assert abs(np.mean([luma(a).mean() - luma(b).mean() for a, b in zip(right, source)])) * 255 < 0.25
    chroma_error = np.mean([np.abs(a - b).mean() for a, b in zip(right, source)])
    wrong_error = np.mean([np.abs(a - b).mean() for a, b in zip(wrong, source)])
    # … and read with the wrong matrix it does not: the samples really are BT.709
    assert wrong_error > 2 * chroma_error


def test_colour_keep_leaves_the_source_matrix_at_hd(untagged, tmp_path):
    out = tmp_path / "keep.mkv"
    spec = parse_pipeline("output:\n  colour: keep\nstages:\n  - upscale-for-test\n  - upscale-for-test\n",
                          source="t.yaml")
    result = run_job(untagged["small"], out, spec, JobOptions(provenance=False))
    assert tags(out) == ("bt470bg", "smpte170m", "bt470bg", "tv")
    assert not any("matrix" in n for n in result.notes if n.startswith("colour: re-encoded"))


def test_colour_bt709_converts_even_a_passthrough(untagged, tmp_path):
    out = tmp_path / "709.mkv"
    result = run_job(untagged["small"], out, _spec(None, "  colour: bt709\n"), JobOptions(provenance=False))
    assert tags(out)[2] == "bt709"
    assert any("output.colour: bt709" in n for n in result.notes)
    source, converted = decode_as(untagged["small"], "bt601"), decode_as(out, "bt709")
    assert min(psnr_y(a, b) for a, b in zip(converted, source)) > 40


def test_colour_option_is_validated():
    with pytest.raises(PipelineError, match=r"output\.colour: got 'purple' \(expected one of: 'auto', 'keep', 'bt709'\)"):
        parse_pipeline("output:\n  colour: purple\nstages: []\n", source="p.yaml")


@pytest.mark.parametrize("pix_fmt, expected", [("yuv420p", "yuv420p10le"), ("yuv422p", "yuv422p10le"),
                                               ("yuvj420p", "yuv420p10le")])
def test_bit_depth_10_makes_a_10_bit_master(tmp_path, pix_fmt, expected):
    full = pix_fmt.startswith("yuvj")       # full-range 4:2:0 as MJPEG capture cards write it
    src = make_clip(tmp_path / f"{pix_fmt}.mkv", size="320x240", seconds=0.2, audio_tracks=0, timecode=None,
                    field="prog", pix_fmt=pix_fmt, colour=None if full else "bt470bg",
                    codec="mjpeg" if full else "ffv1")
    assert ffprobe_video(src)["pix_fmt"] == pix_fmt
    out = tmp_path / "ten.mkv"
    result = run_job(src, out, _spec("copy-for-test", "  bit_depth: 10\n"), JobOptions(provenance=False))
    v = ffprobe_video(out)
    assert v["pix_fmt"] == expected
    assert result.output_format.bit_depth == 10
    # yuvj is full range: the deeper master keeps that meaning and says so
    assert v["color_range"] == ("pc" if pix_fmt.startswith("yuvj") else "tv")
    # levels survive the 8-bit → 16-bit RGB → 10-bit trip (swscale's 16-bit white is 255·256, not 65535:
    # +0.42 levels before that was known); what is left is RGB clipping of testsrc2's saturated bars
    assert abs(y_plane_mean(out) - y_plane_mean(src)) < 0.15


def test_rgb_paths_are_level_exact(tmp_path):
    """A grey ramp through the 16-bit RGB pipe both ways (10-bit source → 10-bit master) keeps its levels."""
    src = tmp_path / "ramp.mkv"
    y = np.tile(np.round(np.linspace(64, 940, 320)), (240, 1))           # limited-range black → white
    frame = np.concatenate([y, np.full((2 * 240, 320), 512.0)]).astype("<u2").tobytes()
    subprocess.run(["ffmpeg", "-v", "error", "-f", "rawvideo", "-pix_fmt", "yuv444p10le", "-s", "320x240",
                    "-framerate", "25", "-i", "-", "-vf", "setparams=range=tv:colorspace=bt470bg:"
                    "color_primaries=bt470bg:color_trc=bt709", "-c:v", "ffv1", str(src)], input=frame * 3, check=True)
    out = tmp_path / "ramp.out.mkv"
    run_job(src, out, _spec("copy-for-test"), JobOptions(provenance=False))
    assert ffprobe_video(out)["pix_fmt"] == "yuv444p10le"
    assert abs(y_plane_mean(out) - y_plane_mean(src)) < 0.02
    frames = [f.image for f in read_frames(src)]
    # white decodes to 1.0 and mid-grey to mid-grey, not 0.4 % darker
    assert frames[0][:, -1].mean() > 0.998 and abs(frames[0][:, 160].mean() - 160 / 319) < 0.004
