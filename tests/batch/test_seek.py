"""Segments start by seeking (restore/media/decode.py ``start_pts``): it must be frame-exact."""

from __future__ import annotations

import pytest

from restore.batch.segments import frame_times
from restore.media.decode import VideoReader
from restore.media.probe import probe, video_format
from tests.conftest import ffmpeg


@pytest.fixture(scope="module", params=["h264-bframes-offset.mkv", "h264-bframes.mp4", "mpeg2-open-gop.mkv", "ffv1.mkv"])
def clip(request, tmp_path_factory):
    path = tmp_path_factory.mktemp("seek") / request.param
    args = ["-f", "lavfi", "-i", "testsrc2=size=96x64:rate=25:d=2.4"]
    if request.param.startswith("h264"):
        # long GOP with B-frames: frames must be found by time, not by packet order
        args += ["-c:v", "libx264", "-g", "12", "-bf", "3", "-pix_fmt", "yuv420p"]
    elif request.param.startswith("mpeg2"):
        # DVD/broadcast shape: open GOPs, whose leading B-frames cannot be decoded right after a seek
        args += ["-c:v", "mpeg2video", "-g", "12", "-bf", "2", "-pix_fmt", "yuv420p"]
    else:
        args += ["-c:v", "ffv1", "-pix_fmt", "yuv420p"]
    if "offset" in request.param:
        args += ["-output_ts_offset", "3600"]   # a stream that does not start at zero
    ffmpeg(*args, str(path))
    return path


def _frames(path, fmt, **kw) -> list[bytes]:
    return [f.raw for f in VideoReader(path, fmt, mode="native", **kw)]


def test_seeking_start_is_frame_exact(clip):
    fmt = video_format(probe(clip, count=False))
    times = frame_times(clip, 60, probe(clip, count=False)["container"])
    assert times is not None and len(times) == 60
    everything = _frames(clip, fmt)
    assert len(everything) == 60
    for start in (1, 11, 12, 13, 37, 59):
        got = _frames(clip, fmt, start_frame=start, start_pts=times[start], max_frames=7)
        assert got == everything[start:start + 7], f"start {start}"


def test_frame_times_refuses_a_count_that_does_not_match(clip):
    assert frame_times(clip, 61) is None


def test_transport_streams_are_not_seeked(tmp_path):
    """MPEG-TS seeks by bisecting bytes and can land after the frame: segments decode it from the top."""
    ts = tmp_path / "reel.ts"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=96x64:rate=25:d=0.8", "-c:v", "mpeg2video", "-g", "12", str(ts))
    container = probe(ts, count=False)["container"]
    assert container == "mpegts"
    assert frame_times(ts, 20, container) is None
    assert frame_times(ts, 20) is not None      # the index itself is fine; the seek is what is refused
