"""Measure what is wrong with footage, so synthetic degradations can be centred on it.

The same code scores real footage (``analyze_footage``) and synthetic frames or patches
(``analyze_frames``): a match is only meaningful if both sides are measured alike.

Figures (luma, BT.601, 8-bit levels where a level is meant):

``noise_sigma``  deviation of the noise, 8-bit levels (Immerkær's Laplacian estimator on the
                 flattest half of the picture, so texture counts as little as possible).
``edge_width_px`` sharpness: the Gaussian spread (σ, pixels) of the picture's edges, from how
                 their gradient falls when smoothed at two scales; larger is softer.
``blockiness``   ratio of the luma step across the strongest 8-pixel column phase to the
                 step across the others: 1.0 none, ≥ 1.2 visible 8×8 coding blocks.
``interlace``    comb energy: line-to-line second difference over the same at two lines
                 (same field), both smoothed along the line so noise cancels. Progressive
                 pictures score ~0.3-0.6; combed ones > 1.
``flicker``      relative deviation of each frame's mean luma from the running median of
                 its neighbours (consecutive frames only); ``exposure_drift`` the relative
                 range of that running median.
``colourfulness`` mean |Cb| + |Cr| in 8-bit levels: below ~1 the footage is black-and-white.
``dust_per_mpx`` one-frame specks (the frame differs from both neighbours in the same
                 direction while the neighbours agree) per megapixel per frame.
"""

from __future__ import annotations

import math
import os
from collections import deque
from typing import Iterable

import cv2
import numpy as np

from restore.errors import InputError

_LAPLACE = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)
BLOCK_STEP_CAP = 0.04     # luma steps above ~10 levels are picture edges, not block boundaries
DUST_THRESHOLD = 0.12     # luma step (of 1.0) for a speck to count
DUST_NEIGHBOUR_AGREE = 0.04
DUST_MAX_AREA = 400       # px: larger one-frame changes are cuts or motion, not dust


def _luma(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return image
    return image[..., 0] * 0.299 + image[..., 1] * 0.587 + image[..., 2] * 0.114


class _Accumulator:
    """Sums over frames, so a clip is measured with bounded memory and patches pool their evidence."""

    def __init__(self, consecutive: bool):
        self.consecutive = consecutive
        self.frames = 0
        self.noise: list[float] = []
        self.edge: list[np.ndarray] = []
        self.block_profile = np.zeros(8)
        self.comb = np.zeros(2)
        self.means: list[float] = []
        self.window: deque = deque(maxlen=3)
        self.dust_count = 0
        self.dust_pixels = 0.0
        self.size: tuple[int, int] | None = None
        self.chroma: list[float] = []

    def add(self, image: np.ndarray) -> None:
        image = np.asarray(image, dtype=np.float32)
        y = _luma(image)
        h, w = y.shape
        self.size = (w, h)
        self.frames += 1
        self.means.append(float(y.mean()))
        if image.ndim == 3:
            # mean distance from grey (|Cb| + |Cr|, 8-bit levels): ~0 for black-and-white
            cb = (image[..., 2] - y) * 0.564
            cr = (image[..., 0] - y) * 0.713
            self.chroma.append(float((np.abs(cb) + np.abs(cr)).mean() * 255.0))
        if min(h, w) >= 8:
            self.noise.append(noise_sigma(y))
            self.edge.append(edge_spreads(y))
            self.block_profile += _block_profile(y)
            self.comb += _comb_sums(y)
        if self.consecutive:
            self.window.append(y)
            if len(self.window) == 3:
                self.dust_count += count_specks(*self.window)
                self.dust_pixels += h * w

    def result(self) -> dict:
        edges = np.concatenate(self.edge) if self.edge else np.zeros(0)
        profile = self.block_profile
        others = np.delete(profile, int(np.argmax(profile))) if profile.any() else profile
        out = {
            "frames_analyzed": self.frames,
            "noise_sigma": _round(float(np.median(self.noise))) if self.noise else None,
            "edge_width_px": _round(float(np.median(edges))) if edges.size >= 5 else None,
            "blockiness": _round(float(profile.max() / (np.median(others) + 1e-9))) if profile.any() else None,
            "interlace": _round(float(self.comb[0] / (self.comb[1] + 1e-9))) if self.comb[1] > 0 else None,
            "flicker": None, "exposure_drift": None, "dust_per_mpx": None,
            "colourfulness": _round(float(np.mean(self.chroma))) if self.chroma else None,
        }
        if self.consecutive and self.frames >= 5:
            flicker, drift = flicker_stats(np.asarray(self.means))
            out["flicker"], out["exposure_drift"] = _round(flicker, 4), _round(drift, 4)
        if self.consecutive and self.dust_pixels:
            out["dust_per_mpx"] = _round(self.dust_count / (self.dust_pixels / 1e6))
        return out


def _round(value: float, digits: int = 3) -> float:
    return round(float(value), digits)


def noise_sigma(luma: np.ndarray) -> float:
    """Immerkær (1996) on the flatter half of the picture, in 8-bit levels."""
    y = luma * 255.0
    response = np.abs(cv2.filter2D(y, -1, _LAPLACE, borderType=cv2.BORDER_REFLECT_101))[1:-1, 1:-1]
    gx = cv2.Sobel(y, cv2.CV_32F, 1, 0, ksize=3)[1:-1, 1:-1]
    gy = cv2.Sobel(y, cv2.CV_32F, 0, 1, ksize=3)[1:-1, 1:-1]
    grad = cv2.blur(np.abs(gx) + np.abs(gy), (5, 5))
    body = (y[1:-1, 1:-1] > 8) & (y[1:-1, 1:-1] < 247)  # clipped black/white hides noise
    flat = (grad <= np.percentile(grad[body], 50)) & body if body.any() else grad >= 0
    return float(math.sqrt(math.pi / 2) / 6.0 * response[flat].mean()) if flat.any() else 0.0


def edge_spreads(luma: np.ndarray, fine: float = 0.5, coarse: float = 1.5, min_step: float = 0.06) -> np.ndarray:
    """σ of each strong edge from the ratio of its gradient at two smoothing scales.

    A step of contrast C blurred by σ has peak gradient C/√(2π(σ²+s²)) after smoothing by s,
    so the ratio R of the peaks at ``fine`` and ``coarse`` gives σ² = (c² − R²f²)/(R² − 1)
    whatever the contrast: sharp edges lose most when smoothed, soft edges little.
    """
    def gradient(sigma: float) -> np.ndarray:
        y = cv2.GaussianBlur(luma, (0, 0), sigma)
        gx = cv2.Sobel(y, cv2.CV_32F, 1, 0, ksize=3) / 8.0
        gy = cv2.Sobel(y, cv2.CV_32F, 0, 1, ksize=3) / 8.0
        return np.sqrt(gx * gx + gy * gy)

    g_fine, g_coarse = gradient(fine), gradient(coarse)
    # edge points: local maxima of the fine gradient whose step would be at least min_step
    step = g_fine * math.sqrt(2 * math.pi) * fine  # lower bound of the edge's contrast
    peak = (g_fine >= cv2.dilate(g_fine, np.ones((3, 3), np.uint8))) & (step >= min_step)
    peak[:4], peak[-4:], peak[:, :4], peak[:, -4:] = False, False, False, False
    ratio = np.clip(g_fine[peak] / (g_coarse[peak] + 1e-9), 1.0 + 1e-3, coarse / fine - 1e-3)
    r2 = ratio * ratio
    sigma2 = (coarse * coarse - r2 * fine * fine) / (r2 - 1.0)
    return np.sqrt(np.maximum(sigma2, 0.0)).astype(np.float32)


def _block_profile(luma: np.ndarray) -> np.ndarray:
    # step between column x and x+1; capped so that a few strong picture edges that happen to
    # share a column phase cannot outweigh the small, ubiquitous steps of coding blocks
    steps = np.minimum(np.abs(np.diff(luma, axis=1)), BLOCK_STEP_CAP).mean(axis=0)
    usable = len(steps) - len(steps) % 8
    if usable < 8:
        return np.zeros(8)
    return steps[:usable].reshape(-1, 8).sum(axis=0)


def _comb_sums(luma: np.ndarray) -> np.ndarray:
    if luma.shape[0] < 5:
        return np.zeros(2)
    one = luma[1:-1] - 0.5 * (luma[:-2] + luma[2:])
    two = luma[2:-2] - 0.5 * (luma[:-4] + luma[4:])
    # averaging along the line cancels noise but keeps the comb (it is coherent along lines)
    one = cv2.blur(one, (9, 1))
    two = cv2.blur(two, (9, 1))
    return np.array([np.abs(one).sum() / one.size, np.abs(two).sum() / two.size])


def count_specks(previous: np.ndarray, current: np.ndarray, following: np.ndarray) -> int:
    """One-frame specks of ``current`` (the spike detection index of film restoration)."""
    level = current.mean() + 1e-6
    prev = previous * (level / (previous.mean() + 1e-6))  # flicker must not look like dust
    foll = following * (level / (following.mean() + 1e-6))
    up = np.minimum(current - prev, current - foll)
    down = np.minimum(prev - current, foll - current)
    # neighbours must agree around the speck, not only on it: a moving edge can cross the same
    # place in both neighbours and would otherwise pose as a one-frame event
    agree = cv2.dilate(np.abs(prev - foll), np.ones((3, 3), np.uint8)) < DUST_NEIGHBOUR_AGREE
    mask = (((up > DUST_THRESHOLD) | (down > DUST_THRESHOLD)) & agree).astype(np.uint8)
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA]
    return int(((areas >= 2) & (areas <= DUST_MAX_AREA)).sum())


def flicker_stats(means: np.ndarray, radius: int = 2) -> tuple[float, float]:
    padded = np.pad(means, radius, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * radius + 1)
    trend = np.median(windows, axis=1)
    residual = means / np.maximum(trend, 1e-4) - 1.0
    drift = (trend.max() - trend.min()) / max(float(trend.mean()), 1e-4)
    return float(residual.std()), float(drift)


def analyze_frames(frames: Iterable[np.ndarray], consecutive: bool = True) -> dict:
    """Figures of float32 RGB (or luma) frames in [0, 1].

    ``consecutive=False`` for unrelated patches: flicker and dust need neighbouring frames
    of one clip and are then left out (None).
    """
    acc = _Accumulator(consecutive)
    for frame in frames:
        acc.add(getattr(frame, "image", frame))
    if acc.frames == 0:
        raise InputError("no frames to analyse")
    result = acc.result()
    if acc.size:
        result["width"], result["height"] = acc.size
    return result


def analyze_footage(path: str | os.PathLike, max_frames: int | None = 200) -> dict:
    """Figures of a video (its first ``max_frames`` frames) or a still image."""
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    from restore.media import probe, read_frames, video_format

    report = probe(path, count=False)
    fmt = video_format(report)
    stats = analyze_frames((f.image for f in read_frames(path, max_frames=max_frames)), consecutive=True)
    stats.update({"source": str(path), "width": fmt.width, "height": fmt.height,
                  "fps": float(fmt.fps) if fmt.fps else None, "field_order": fmt.field_order})
    return stats
