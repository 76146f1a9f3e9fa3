"""Temporal consistency: steady the detail a per-frame model invents, without dragging the picture.

A GAN restores each frame on its own, so fine texture it synthesises (grain, skin,
fabric) changes from frame to frame even where the scene stands still: the picture
"boils". We warp the previous *output* onto the current frame with dense optical
flow (OpenCV DIS, computed on small grey copies), check the flow forward and
backward, and blend only the high-frequency band of the two frames where the
motion is trusted. The low-frequency band — brightness, shapes, what the source
actually shows — always comes from the current frame, so nothing is carried along
that the source does not contain; occlusions and cuts fall back to the current frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from restore.metrics import luma
from restore.pipeline.registry import register_stage
from restore.stages.base import Stage


@dataclass(frozen=True)
class TemporalParams:
    strength: float = field(default=0.6, metadata={"min": 0.0, "max": 0.95})  # weight of the warped past detail
    detail_sigma: float = field(default=2.0, metadata={"min": 0.5, "max": 8.0})  # band split (output px)
    flow_width: int = field(default=480, metadata={"min": 120, "max": 1920})   # flow computed at this width
    consistency_px: float = field(default=1.0, metadata={"min": 0.1, "max": 8.0})  # forward-backward tolerance
    change_threshold: float = field(default=0.04, metadata={"min": 0.0, "max": 1.0})


def _warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    h, w = flow.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(image, gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


@register_stage
class TemporalConsistency(Stage):
    name = "temporal"
    Params = TemporalParams
    warmup = 8  # frames of history a segment needs before its first output is as steady as in a full run

    def setup(self) -> None:
        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
        self._prev_out: np.ndarray | None = None
        self._prev_grey: np.ndarray | None = None

    def _grey(self, image: np.ndarray) -> tuple[np.ndarray, float]:
        h, w = image.shape[:2]
        factor = min(1.0, self.params.flow_width / w)
        small = cv2.resize(luma(image), (max(8, int(w * factor)), max(8, int(h * factor))),
                           interpolation=cv2.INTER_AREA)
        return (np.clip(small, 0, 1) * 255).astype(np.uint8), factor

    def _blend(self, current: np.ndarray) -> tuple[np.ndarray, float]:
        p = self.params
        grey, factor = self._grey(current)
        prev_grey = self._prev_grey
        self._prev_grey = grey
        if self._prev_out is None or prev_grey.shape != grey.shape:
            return current, 0.0
        back = self._dis.calc(grey, prev_grey, None)        # current → previous
        fwd = self._dis.calc(prev_grey, grey, None)         # previous → current
        # forward-backward check: following back then fwd must land where we started
        roundtrip = back + _warp(fwd, back)
        reliable = np.hypot(roundtrip[..., 0], roundtrip[..., 1]) < p.consistency_px
        h, w = current.shape[:2]
        flow = cv2.resize(back, (w, h), interpolation=cv2.INTER_LINEAR) / factor
        warped = _warp(self._prev_out, flow)
        low_cur = cv2.GaussianBlur(current, (0, 0), p.detail_sigma)
        low_prev = cv2.GaussianBlur(warped, (0, 0), p.detail_sigma)
        # where the coarse picture changed, the past is not this frame's past (occlusion, cut, light)
        agrees = np.abs(luma(low_cur) - luma(low_prev)) < p.change_threshold
        weight = (cv2.resize(reliable.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR) > 0.5) & agrees
        alpha = cv2.GaussianBlur(weight.astype(np.float32), (0, 0), 2.0) * p.strength
        # low_cur + (1 − α)·(current − low_cur) + α·(warped − low_prev), written as the current frame plus α
        # times the difference of the two detail bands, in place: on an HD frame each temporary costs ~10 ms
        out = warped - low_prev
        out -= current
        out += low_cur
        out *= alpha[..., None]
        out += current
        return np.clip(out, 0, 1, out=out).astype(np.float32, copy=False), float(alpha.mean())

    def run(self, frames):
        if not hasattr(self, "_dis"):
            self.setup()
        for frame in frames:
            out, used = self._blend(frame.image)
            self._prev_out = out
            result = frame.with_image(out)
            result.notes["temporal_blend"] = round(used, 4)
            yield result
