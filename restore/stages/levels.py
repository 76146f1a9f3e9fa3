"""Levels and white balance: restore the tonal range and neutral greys that age and tape took away.

Black and white points come from robust percentiles of luma; the colour cast from
the average of near-neutral pixels (bright, low-saturation: "grey world" restricted
to what should be grey). Both are measured per frame but smoothed over time with an
exponential average, so the correction itself never flickers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from restore.frame import Frame
from restore.metrics import luma
from restore.pipeline.registry import register_stage
from restore.stages.base import FrameStage


@dataclass(frozen=True)
class LevelsParams:
    black_percentile: float = field(default=0.5, metadata={"min": 0.0, "max": 10.0})
    white_percentile: float = field(default=99.5, metadata={"min": 90.0, "max": 100.0})
    max_stretch: float = field(default=1.5, metadata={"min": 1.0, "max": 4.0})
    white_balance: bool = True
    max_cast: float = field(default=0.15, metadata={"min": 0.0, "max": 0.5})   # largest per-channel correction
    smoothing: float = field(default=0.9, metadata={"min": 0.0, "max": 0.99})  # weight of the past per frame


@register_stage
class Levels(FrameStage):
    name = "levels"
    Params = LevelsParams
    warmup = 20  # the smoothed estimate needs this much history to match a run from the start

    def __init__(self, params, context):
        super().__init__(params, context)
        self._state: np.ndarray | None = None   # [black, white, gain_r, gain_g, gain_b]

    def _measure(self, img: np.ndarray) -> np.ndarray:
        p = self.params
        small = img[::4, ::4]
        y = luma(small)
        gains = np.ones(3, np.float32)
        if p.white_balance:
            # what is grey under the current correction, refined: each pass trusts fewer,
            # greyer pixels, converging on the neutral surfaces rather than the scene's average
            for limit in (0.12, 0.06, 0.03):
                balanced = small * gains
                sat = balanced.max(axis=2) - balanced.min(axis=2)
                neutral = (sat < limit) & (y > 0.25) & (y < 0.95)
                if neutral.sum() < 0.005 * y.size:
                    break
                mean = small[neutral].mean(axis=0)
                gains = np.clip(mean.mean() / np.maximum(mean, 1e-4), 1 - p.max_cast, 1 + p.max_cast)
        # black and white points of the balanced picture, which is what gets stretched
        black, white = np.percentile(luma(small * gains), [p.black_percentile, p.white_percentile])
        return np.array([black, white, *gains], dtype=np.float64)

    def process(self, frame: Frame) -> Frame:
        p = self.params
        facts = self._measure(frame.image)
        self._state = facts if self._state is None else p.smoothing * self._state + (1 - p.smoothing) * facts
        black, white = self._state[:2]
        stretch = min(p.max_stretch, 1.0 / max(white - black, 1e-3))
        out = (frame.image * self._state[2:].astype(np.float32) - black) * stretch
        result = frame.with_image(np.clip(out, 0, 1).astype(np.float32))
        result.notes["levels"] = {"black": round(float(black), 4), "white": round(float(white), 4),
                                  "gains": [round(float(g), 4) for g in self._state[2:]]}
        return result
