"""Where did the restoration depart from the source? The fidelity map.

Both pictures are compared in BEFORE's geometry, as luma, after the same
denoise (a Gaussian low-pass): grain, noise and dust are what a restoration is
meant to remove, so they must not count. What remains is structure — edges,
texture, shapes — and we measure how much the restored structure agrees with
the source's with the contrast-structure term of SSIM (Wang et al. 2004):

    cs = (2·σxy + C2) / (σx² + σy² + C2)

The luminance term is left out on purpose: deflicker and grading change
brightness legitimately; a GAN that paints a new texture, a face or a word
changes local structure, and that is what a conservator has to check.
``departure = 1 − cs`` is 0 where the structure is the source's and rises
towards 1 (or beyond, for inverted structure) where it was invented or lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from restore.metrics import luma

DENOISE_SIGMA = 1.6      # pixels of BEFORE: removes grain, keeps edges a viewer would notice
WINDOW = 7              # SSIM's window (pixels, a box: 5 box filters cost less than one wide Gaussian)
C2 = (0.03 * 1.0) ** 2   # SSIM's stabiliser for a [0, 1] range
DEFAULT_THRESHOLD = 0.35  # departure that marks a region as an invention to check
MIN_REGION_FRACTION = 0.0005  # regions smaller than this share of the frame are noise, not inventions
MAX_REGIONS_PER_FRAME = 3


def departure_map(before: np.ndarray, after_aligned: np.ndarray) -> np.ndarray:
    """Per-pixel structural departure (H×W float32, 0 = same structure) of two same-size RGB frames."""
    x = cv2.GaussianBlur(luma(before), (0, 0), DENOISE_SIGMA)
    y = cv2.GaussianBlur(luma(after_aligned), (0, 0), DENOISE_SIGMA)

    def window(a):
        return cv2.blur(a, (WINDOW, WINDOW), borderType=cv2.BORDER_REFLECT)

    mx, my = window(x), window(y)
    vx = np.maximum(window(x * x) - mx * mx, 0)
    vy = np.maximum(window(y * y) - my * my, 0)
    cov = window(x * y) - mx * my
    cs = (2 * cov + C2) / (vx + vy + C2)
    return np.clip(1.0 - cs, 0.0, 2.0).astype(np.float32)


@dataclass
class Region:
    box: tuple[int, int, int, int]   # x, y, w, h in BEFORE pixels
    area: float                      # share of the frame
    peak: float
    mean: float

    def as_dict(self) -> dict:
        return {"box": list(self.box), "area": round(self.area, 5), "peak": round(self.peak, 4),
                "mean": round(self.mean, 4)}


@dataclass
class FrameFidelity:
    score: float                     # mean cs over the frame: 1 = the source's structure throughout
    p99: float                       # 99th percentile of departure (small inventions show here first)
    area_above: float                # share of the frame above the threshold
    regions: list[Region] = field(default_factory=list)


def assess(departure: np.ndarray, threshold: float = DEFAULT_THRESHOLD) -> FrameFidelity:
    """Summarise one departure map and find the regions above ``threshold`` (largest first)."""
    mask = (departure > threshold).astype(np.uint8)
    h, w = departure.shape
    regions = []
    if mask.any():
        # close small gaps so one invented object is one region, not a constellation of pixels
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7)))
        count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        min_area = MIN_REGION_FRACTION * h * w
        found = []
        for label in range(1, count):
            x, y, bw, bh, area = (int(v) for v in stats[label])
            if area < min_area:
                continue
            values = departure[y:y + bh, x:x + bw][labels[y:y + bh, x:x + bw] == label]
            found.append(Region((x, y, bw, bh), area / (h * w), float(values.max()), float(values.mean())))
        found.sort(key=lambda r: -(r.area * r.mean))
        regions = found[:MAX_REGIONS_PER_FRAME]
    return FrameFidelity(score=float(1.0 - departure.mean()), p99=float(np.percentile(departure[::2, ::2], 99)),
                         area_above=float((departure > threshold).mean()), regions=regions)


def heatmap_image(departure: np.ndarray, threshold: float = DEFAULT_THRESHOLD, max_side: int = 320) -> np.ndarray:
    """The departure map as an RGBA overlay (BGRA for OpenCV), shrunk for the report.

    Coloured here rather than in the page: a page opened from file:// may draw its
    images onto a canvas but not read their pixels back. Transparent where the
    structure is the source's, yellow to orange as it departs, opaque red above
    ``threshold``.
    """
    h, w = departure.shape
    factor = min(1.0, max_side / max(h, w))
    if factor < 1:
        # max-pool before shrinking so that a small invention is not averaged away
        k = max(1, int(round(1 / factor)))
        departure = cv2.dilate(departure, np.ones((k, k), np.uint8))
        departure = cv2.resize(departure, (max(1, round(w * factor)), max(1, round(h * factor))),
                               interpolation=cv2.INTER_AREA)
    t = np.clip(departure / threshold, 0, 1)
    floor = 0.25  # below a quarter of the threshold: grain, resampling, nothing to see
    alpha = np.clip((t - floor) / (1 - floor), 0, 1) * 0.75
    alpha[departure >= threshold] = 0.9
    bgra = np.zeros(departure.shape + (4,), np.uint8)
    bgra[..., 2] = 255
    bgra[..., 1] = (np.where(departure >= threshold, 0.0, 1.0 - 0.6 * t) * 255).astype(np.uint8)
    bgra[..., 3] = (alpha * 255 + 0.5).astype(np.uint8)
    return bgra
