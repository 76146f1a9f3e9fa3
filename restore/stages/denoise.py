"""Grain and noise reduction that keeps real detail.

Methods (figures: benchmarks/bench_denoise.py):

* ``mdegrain``   — MVTools' motion-compensated degraining (VapourSynth): each pixel is
  averaged with its motion-compensated neighbours ±``radius`` frames, block by block,
  only where the compensation is good (SAD below a threshold); no spatial blur;
* ``dfttest``    — dfttest2 frequency-domain spatio-temporal filter (VapourSynth);
* ``hqdn3d``     — ffmpeg's fast spatio-temporal low-pass (blurs detail with the grain);
* ``atadenoise`` — ffmpeg's adaptive temporal averaging (no motion compensation);
* ``nlmeans``    — ffmpeg's spatial non-local means (slow);
* ``bm3d``       — ffmpeg's spatial block matching (very slow).

``strength`` 1 is tuned for moderate film grain (σ ≈ 6/255); 0.5 is gentle, 2 strong.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Literal, Optional

from restore.frame import Frame
from restore.pipeline.registry import register_stage
from restore.stages._filterpipe import ffmpeg_filter
from restore.stages._vapoursynth import ExternalMethodStage, vapoursynth_filter
from restore.stages.base import Stage

VS_METHODS = frozenset({"mdegrain", "dfttest"})
EIGHT_BIT_ONLY = frozenset({"nlmeans"})     # ffmpeg 5.1's nlmeans has no high-bit-depth path
Method = Literal["mdegrain", "dfttest", "hqdn3d", "atadenoise", "nlmeans", "bm3d"]


@dataclass(frozen=True)
class DenoiseParams:
    method: Method = "hqdn3d"
    strength: float = field(default=1.0, metadata={"min": 0.1, "max": 4.0})
    radius: int = field(default=2, metadata={"min": 1, "max": 3})          # temporal, frames each side
    fallback: Optional[Literal["hqdn3d", "atadenoise", "nlmeans", "bm3d"]] = None


def ffmpeg_graph(method: str, strength: float, radius: int) -> str:
    """The ffmpeg filter for ``method``; parameters are on the 8-bit scale the filters expect."""
    s = strength
    if method == "hqdn3d":
        return f"hqdn3d={4 * s:.3f}:{3 * s:.3f}:{6 * s:.3f}:{4.5 * s:.3f}"
    if method == "atadenoise":
        # s: frames averaged (odd, ≥ 5 in ffmpeg); thresholds scale with strength
        frames = max(5, 2 * radius + 1)
        return f"atadenoise=0a={0.02 * s:.4f}:0b={0.04 * s:.4f}:1a={0.02 * s:.4f}:1b={0.04 * s:.4f}" \
               f":2a={0.02 * s:.4f}:2b={0.04 * s:.4f}:s={frames}"
    if method == "nlmeans":
        return f"nlmeans=s={max(1.0, 3.0 * s):.3f}:p=7:r=15"
    if method == "bm3d":
        return f"bm3d=sigma={10.0 * s:.3f}"
    raise ValueError(f"not an ffmpeg denoise method: {method}")


@register_stage
class Denoise(ExternalMethodStage, Stage):
    name = "denoise"
    Params = DenoiseParams
    VS_METHODS = VS_METHODS

    def __init__(self, params: DenoiseParams, context):
        super().__init__(params, context)
        # the temporal reach of each method, so segmented (batch) runs carry enough overlap:
        # MDegrain/dfttest/atadenoise read ±radius frames (MDegrain one more for its vectors);
        # hqdn3d is recursive (an IIR over time), so it needs history rather than look-ahead
        self.radius = {"mdegrain": params.radius + 1, "dfttest": params.radius, "atadenoise": max(2, params.radius),
                       "hqdn3d": 0, "nlmeans": 0, "bm3d": 0}.get(self.method, params.radius)
        self.warmup = 16 if self.method == "hqdn3d" else 0

    def run(self, frames: Iterator[Frame]) -> Iterator[Frame]:
        p = self.params
        if self.uses_vapoursynth:
            job = {"op": "denoise", "method": self.method, "strength": p.strength, "radius": p.radius}
            return self.run_through(frames, lambda w, h: vapoursynth_filter(
                job, stage=self.name, width=w, height=h, fps=self.input_fps()))
        graph = ffmpeg_graph(self.method, p.strength, p.radius)
        bits = 8 if self.method in EIGHT_BIT_ONLY else 16
        return self.run_through(frames, lambda w, h: ffmpeg_filter(
            graph, stage=self.name, width=w, height=h, fps=self.input_fps(), bits=bits))
