"""Deinterlacing: interlaced video (two fields per frame) to progressive frames.

Methods, fastest to best (figures: benchmarks/bench_deinterlace.py):

* ``bwdif``  — ffmpeg's motion-adaptive Bob Weaver; the plain-ffmpeg default;
* ``yadif``  — ffmpeg's older motion-adaptive deinterlacer;
* ``nnedi3`` — znedi3 intra-field neural interpolation (VapourSynth);
* ``qtgmc``  — QTempGaussMC (vsjetpack, VapourSynth): motion-compensated, temporally
  stable, the archivists' reference; presets ``fast``, ``medium``, ``slow`` (default),
  ``lossless`` (source field lines kept exactly) and ``stable`` (vsjetpack's defaults).

``rate: field`` emits one frame per field (576i25 → 576p50, the faithful rate for
television: every field is a distinct moment in time); ``rate: frame`` one per frame.
The field order comes from the parameter, else from the stream's flags. With ``detect`` on (the
default) a stream flagged progressive is left as it is, and only a stream whose flag says nothing
(unknown) is examined by ffmpeg's ``idet`` over its first ``detect_frames`` frames. The flag is
trusted because ``idet`` is not: on progressive pictures that pan or tilt, or carry fine
horizontal texture (water, blinds), it reports a consistent field order — 30 of the 80 progressive
clips of ``python -m benchmarks robustness`` read as bottom field first, 12 frames of 12 — and
deinterlacing a progressive picture halves its vertical detail (−2 dB on such a clip). A capture
that is interlaced but flagged progressive needs ``field_order: tff`` (or ``bff``). With ``detect``
off every stream not flagged interlaced is deinterlaced as top field first.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import chain
from typing import Iterator, Literal, Optional

from restore.frame import Frame, VideoFormat
from restore.pipeline.registry import register_stage
from restore.stages._filterpipe import RGB48, ffmpeg_filter
from restore.stages._vapoursynth import ExternalMethodStage, vapoursynth_filter
from restore.stages.base import Stage

VS_METHODS = frozenset({"nnedi3", "qtgmc"})


@dataclass(frozen=True)
class DeinterlaceParams:
    method: Literal["bwdif", "yadif", "nnedi3", "qtgmc"] = "bwdif"
    rate: Literal["field", "frame"] = "field"
    field_order: Literal["auto", "tff", "bff"] = "auto"
    preset: Literal["fast", "medium", "slow", "lossless", "stable"] = "slow"   # qtgmc only
    detect: bool = True
    detect_frames: int = field(default=30, metadata={"min": 5, "max": 200})
    fallback: Optional[Literal["bwdif", "yadif"]] = None      # used when VapourSynth is absent


@register_stage
class Deinterlace(ExternalMethodStage, Stage):
    name = "deinterlace"
    Params = DeinterlaceParams
    VS_METHODS = VS_METHODS

    def __init__(self, params: DeinterlaceParams, context):
        super().__init__(params, context)
        self.frame_ratio = 2 if params.rate == "field" else 1
        self.decided_order: str | None = None
        # frames each side the method looks at: what a segment of a batch must carry as overlap
        # (bwdif/yadif read the neighbouring frames; QTGMC's temporal smoothing and source match reach 3–4)
        self.radius = {"bwdif": 1, "yadif": 1, "nnedi3": 0, "qtgmc": 4}[self.method]

    def output_format(self, fmt: VideoFormat) -> VideoFormat:
        return fmt.replace(fps=fmt.fps * self.frame_ratio, field_order="progressive")

    def describe(self) -> dict:
        return {**super().describe(), "field_order_used": self.decided_order}

    def run(self, frames: Iterator[Frame]) -> Iterator[Frame]:
        fmt = self.context.input_format
        frames = iter(frames)
        first = next(frames, None)
        if first is None:
            return
        frames = chain([first], frames)
        width, height = first.width, first.height
        fps = fmt.fps if fmt is not None else Fraction(25)
        order, how = self._field_order_from_params(fmt)
        if order is None:
            head = [f for _, f in zip(range(self.params.detect_frames), frames)]
            order = detect_field_order(head, width, height, fps)
            how = f"idet over {len(head)} frames"
            frames = chain(head, frames)
        self.decided_order = order
        self.context.emit(stage=self.name, event="field_order", field_order=order, how=how, method=self.method)
        if order == "progressive":
            yield from self._pass_progressive(frames, fps)
            return
        if self.uses_vapoursynth:
            job = {"op": "deinterlace", "method": self.method, "rate": self.params.rate,
                   "tff": order == "tff", "preset": self.params.preset}
            process = vapoursynth_filter(job, stage=self.name, width=width, height=height, fps=fps,
                                         ratio=self.frame_ratio)
        else:
            mode = "send_field" if self.params.rate == "field" else "send_frame"
            graph = f"{self.method}=mode={mode}:parity={order}:deint=all"
            process = ffmpeg_filter(graph, stage=self.name, width=width, height=height, fps=fps,
                                    ratio=self.frame_ratio)
        yield from process.run(frames)

    def _field_order_from_params(self, fmt: VideoFormat | None) -> tuple[str | None, str]:
        if self.params.field_order != "auto":
            return self.params.field_order, "parameter"
        if fmt is not None and fmt.interlaced:
            return ("tff" if fmt.top_field_first else "bff"), f"stream flag {fmt.field_order}"
        if self.params.detect:
            if fmt is not None and fmt.field_order == "progressive":
                return "progressive", "stream flag progressive"
            return None, ""
        # Not flagged interlaced and detection off: the user asked for deinterlacing,
        # so trust them and take the broadcast-common order.
        return "tff", "default (stream not flagged interlaced, detection off)"

    def _pass_progressive(self, frames: Iterator[Frame], fps: Fraction) -> Iterator[Frame]:
        """Progressive material: leave pixels alone, keep the promised frame rate."""
        step = Fraction(1) / (fps * self.frame_ratio)
        for frame in frames:
            for phase in range(self.frame_ratio):
                yield frame.with_image(frame.image, index=frame.index * self.frame_ratio + phase,
                                       pts=frame.pts + phase * step)


_IDET_MULTI = re.compile(r"Multi frame detection:\s*TFF:\s*(\d+)\s*BFF:\s*(\d+)\s*Progressive:\s*(\d+)")


def detect_field_order(frames: list[Frame], width: int, height: int, fps: Fraction) -> str:
    """'tff', 'bff' or 'progressive' from ffmpeg's idet (multi-frame counts)."""
    if not frames:
        return "progressive"
    fps = Fraction(fps)
    argv = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "info",
            "-f", "rawvideo", "-pix_fmt", RGB48.name, "-s", f"{width}x{height}",
            "-framerate", f"{fps.numerator}/{fps.denominator}", "-i", "pipe:0",
            "-vf", "format=yuv444p,idet", "-f", "null", "-"]
    payload = b"".join(RGB48.encode(f.image) for f in frames)
    done = subprocess.run(argv, input=payload, capture_output=True)
    match = _IDET_MULTI.search(done.stderr.decode("utf-8", "replace"))
    if match is None:
        return "progressive"
    tff, bff, progressive = (int(g) for g in match.groups())
    if tff + bff <= progressive:
        return "progressive"
    return "tff" if tff >= bff else "bff"
