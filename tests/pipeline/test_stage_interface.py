"""The stage shapes: windows slide with clamped ends, batches keep order, failures name stage and frame."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import pytest

from restore.errors import StageError
from restore.frame import Frame, VideoFormat
from restore.pipeline.runner import Pipeline
from restore.pipeline.spec import PipelineSpec, OutputParams, StageSpec
from restore.stages.base import FrameStage, StageContext, WindowStage


@dataclass(frozen=True)
class _P:
    pass


def _frames(n: int) -> list[Frame]:
    return [Frame(index=i, pts=Fraction(i, 25), image=np.full((4, 4, 3), i / 100, np.float32)) for i in range(n)]


class _WindowIndices(WindowStage):
    name = "window-indices"
    Params = _P
    radius = 2

    def process_window(self, window, center):
        frame = window[center]
        out = frame.with_image(frame.image)
        out.notes["window"] = [f.index for f in window]
        return out


@pytest.mark.parametrize("n", [1, 2, 3, 7])
def test_window_stage_clamps_at_ends_and_keeps_count(n):
    out = list(_WindowIndices(_P(), StageContext()).run(iter(_frames(n))))
    assert [f.index for f in out] == list(range(n))
    for f in out:
        expected = [min(max(f.index + k, 0), n - 1) for k in range(-2, 3)]
        assert f.notes["window"] == expected


class _Doubler(FrameStage):
    name = "doubler"
    Params = _P

    def process_batch(self, frames):
        assert len(frames) <= self.context.batch_size
        return [f.with_image(f.image * 2) for f in frames]


def test_frame_stage_batches_in_order():
    out = list(_Doubler(_P(), StageContext(batch_size=3)).run(iter(_frames(8))))
    assert [f.index for f in out] == list(range(8))
    assert np.allclose([f.image[0, 0, 0] for f in out], [2 * i / 100 for i in range(8)])


class _FailsOnFive(FrameStage):
    name = "fails-on-five"
    Params = _P

    def process(self, frame):
        if frame.index == 5:
            raise ValueError("bad pixel")
        return frame


def test_failing_stage_names_stage_and_frame():
    fmt = VideoFormat(4, 4, Fraction(25))
    spec = PipelineSpec("t", "", [StageSpec("fails-on-five", _FailsOnFive, _P())], OutputParams(), "t.yaml", "")
    pipe = Pipeline(spec, fmt, batch_size=1)
    with pytest.raises(StageError) as info:
        list(pipe.run(iter(_frames(8))))
    assert info.value.stage == "fails-on-five" and info.value.frame_index == 5
    assert "frame 5" in str(info.value)


class _Dropper(FrameStage):
    name = "dropper"
    Params = _P

    def run(self, frames):
        for f in frames:
            if f.index != 3:
                yield f


def test_runner_refuses_a_stage_that_loses_frames():
    fmt = VideoFormat(4, 4, Fraction(25))
    spec = PipelineSpec("t", "", [StageSpec("dropper", _Dropper, _P())], OutputParams(), "t.yaml", "")
    with pytest.raises(StageError, match="produced 5 frames from 6"):
        list(Pipeline(spec, fmt).run(iter(_frames(6))))
