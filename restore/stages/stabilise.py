"""Stabilise: remove camera shake while keeping intended camera moves (pans, tilts).

Between consecutive frames we estimate a similarity transform (shift, rotation,
scale) from tracked corners (Shi–Tomasi + pyramidal Lucas–Kanade, RANSAC), chain
them into the camera's path, smooth the path with a Gaussian over ±radius frames
(the look-ahead plays the role of vidstab's first pass, without reading the file
twice) and warp each frame from its real to its smoothed position. The borders the
warp uncovers are filled by a slight fixed zoom (``zoom``) and edge replication.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from restore.frame import Frame
from restore.metrics import luma
from restore.pipeline.registry import register_stage
from restore.stages.base import WindowStage


@dataclass(frozen=True)
class StabiliseParams:
    radius: int = field(default=15, metadata={"min": 2, "max": 60})
    zoom: float = field(default=1.03, metadata={"min": 1.0, "max": 1.3})
    max_shift: float = field(default=0.05, metadata={"min": 0.0, "max": 0.3})   # fraction of the width


def frame_motion(prev: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """(dx, dy, da, ds): similarity motion taking ``prev`` to ``cur`` (zero when untrackable)."""
    a = (np.clip(luma(prev), 0, 1) * 255).astype(np.uint8)
    b = (np.clip(luma(cur), 0, 1) * 255).astype(np.uint8)
    pts = cv2.goodFeaturesToTrack(a, maxCorners=300, qualityLevel=0.01, minDistance=12, blockSize=7)
    if pts is None or len(pts) < 8:
        return np.zeros(4)
    nxt, status, _ = cv2.calcOpticalFlowPyrLK(a, b, pts, None, winSize=(21, 21), maxLevel=3)
    good = status.ravel() == 1
    if good.sum() < 8:
        return np.zeros(4)
    m, _ = cv2.estimateAffinePartial2D(pts[good], nxt[good], method=cv2.RANSAC, ransacReprojThreshold=2.0)
    if m is None:
        return np.zeros(4)
    scale = float(np.hypot(m[0, 0], m[1, 0]))
    return np.array([m[0, 2], m[1, 2], np.arctan2(m[1, 0], m[0, 0]), np.log(max(scale, 1e-3))])


@register_stage
class Stabilise(WindowStage):
    name = "stabilise"
    Params = StabiliseParams

    def __init__(self, params: StabiliseParams, context):
        super().__init__(params, context)
        self.radius = params.radius
        self._path: dict[int, np.ndarray] = {}     # cumulative camera position per frame index
        self._last: tuple[int, np.ndarray] | None = None

    def _position(self, frame: Frame) -> np.ndarray:
        if frame.index not in self._path:
            if self._last is None:
                self._path[frame.index] = np.zeros(4)
            else:
                index, prev = self._last
                self._path[frame.index] = self._path[index] + frame_motion(prev, frame.image)
            self._last = (frame.index, frame.image)
            for old in [k for k in self._path if k < frame.index - 3 * self.radius]:
                del self._path[old]
        return self._path[frame.index]

    def process_window(self, window: list[Frame], center: int) -> Frame:
        for f in window:  # positions must be chained in order, and each frame only once
            if f.index not in self._path and (self._last is None or f.index == self._last[0] + 1):
                self._position(f)
        frame = window[center]
        real = self._path[frame.index]
        seen = {f.index: self._path[f.index] for f in window if f.index in self._path}
        idx = np.array(sorted(seen), dtype=np.float64)
        path = np.stack([seen[int(i)] for i in idx])
        weights = np.exp(-0.5 * ((idx - frame.index) / (self.radius / 2)) ** 2)
        # a weighted straight-line fit, not a mean: at the clip's ends the window is one-sided,
        # and a mean would slow a steady pan down there
        t = idx - frame.index
        design = np.stack([np.ones_like(t), t], axis=1) * np.sqrt(weights)[:, None]
        coef, *_ = np.linalg.lstsq(design, path * np.sqrt(weights)[:, None], rcond=None)
        smooth = coef[0]
        dx, dy, da, ds = smooth - real
        h, w = frame.image.shape[:2]
        limit = self.params.max_shift * w
        dx, dy = float(np.clip(dx, -limit, limit)), float(np.clip(dy, -limit, limit))
        m = cv2.getRotationMatrix2D((w / 2, h / 2), np.degrees(da), float(np.exp(ds)) * self.params.zoom)
        m[:, 2] += (dx, dy)
        out = cv2.warpAffine(frame.image, m, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
        result = frame.with_image(np.clip(out, 0, 1).astype(np.float32))
        result.notes["stabilise"] = {"dx": round(dx, 2), "dy": round(dy, 2), "rotation_deg": round(float(np.degrees(da)), 3)}
        return result
