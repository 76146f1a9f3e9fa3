from fractions import Fraction

import numpy as np
import pytest
from conftest import moving_truth, needs_vapoursynth, to_frames

from restore.errors import StageError
from restore.stages._filterpipe import ffmpeg_filter
from restore.stages._vapoursynth import vapoursynth_filter

FRAMES = to_frames(moving_truth(6))


def test_null_graph_round_trip_stays_below_a_quarter_of_an_8bit_step():
    process = ffmpeg_filter("null", stage="probe", width=160, height=120, fps=Fraction(25))
    out = list(process.run(iter(FRAMES)))
    assert [f.pts for f in out] == [f.pts for f in FRAMES]
    assert max(float(np.abs(o.image - f.image).max()) for o, f in zip(out, FRAMES)) < 0.25 / 255


def test_upstream_failure_reaches_the_caller_unchanged():
    def upstream():
        yield from FRAMES[:3]
        raise StageError("before", 3, "broken frame")

    process = ffmpeg_filter("null", stage="probe", width=160, height=120, fps=Fraction(25))
    with pytest.raises(StageError, match="stage 'before' failed on frame 3"):
        list(process.run(upstream()))


def test_ffmpeg_failure_names_stage_and_first_error_line():
    process = ffmpeg_filter("bm3d=block=99", stage="denoise", width=160, height=120, fps=Fraction(25))
    with pytest.raises(StageError, match=r"stage 'denoise' failed on frame 0: .*block"):
        list(process.run(iter(FRAMES)))


def test_wrong_frame_size_stops_the_job():
    process = ffmpeg_filter("null", stage="probe", width=80, height=60, fps=Fraction(25))
    with pytest.raises(StageError, match="frame is 160x120, expected 80x60"):
        list(process.run(iter(FRAMES)))


@needs_vapoursynth
def test_vapoursynth_error_names_stage_and_frame():
    process = vapoursynth_filter({"op": "scratches", "args": {"mindif": -1}}, stage="scratches",
                                 width=160, height=120, fps=Fraction(25))
    with pytest.raises(StageError, match="stage 'scratches' failed on frame 0: .*mindif"):
        list(process.run(iter(FRAMES)))
