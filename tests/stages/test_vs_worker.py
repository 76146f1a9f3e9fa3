"""The VapourSynth worker's input window (pure Python: runs without VapourSynth)."""

import io

import numpy as np
import pytest

from restore.stages.vs_worker import KEEP_BEHIND, StreamSource


def stream_of(count, width=8, height=4):
    frames = [np.full((3, height, width), k, "<f4") for k in range(count)]
    return io.BufferedReader(io.BytesIO(b"".join(f.tobytes() for f in frames)))


def test_window_stays_bounded_over_a_long_stream():
    src = StreamSource(stream_of(200), 8, 4)
    for n in range(200):
        assert float(src.get(n)[0, 0, 0]) == n
        assert len(src.frames) <= KEEP_BEHIND + 1
    assert src.read_count == 200


def test_requests_past_the_end_are_clamped_and_old_frames_refused():
    src = StreamSource(stream_of(50), 8, 4)
    assert float(src.get(80)[0, 0, 0]) == 49 and src.eof
    with pytest.raises(RuntimeError, match="left the window"):
        src.get(0)


def test_truncated_frame_is_an_error():
    data = np.zeros((3, 4, 8), "<f4").tobytes()
    src = StreamSource(io.BufferedReader(io.BytesIO(data + data[:10])), 8, 4)
    src.get(0)
    with pytest.raises(RuntimeError, match="truncated input frame 1"):
        src.get(1)
