"""Image and video quality measures shared by stages' tests, benchmarks and the review report.

All take float32 RGB arrays in [0, 1]. Y is BT.601 luma, as the SR literature reports it.
"""

from __future__ import annotations

import cv2
import numpy as np

_Y = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def luma(image: np.ndarray) -> np.ndarray:
    return image @ _Y if image.ndim == 3 else image


def psnr_y(a: np.ndarray, b: np.ndarray, border: int = 0, mask: np.ndarray | None = None) -> float:
    """PSNR of the luma planes, optionally without a border and only where ``mask`` is true.

    Identical pictures score 99 dB (not infinity), so averages over frames stay finite.
    """
    d = luma(a).astype(np.float64) - luma(b).astype(np.float64)
    if border:
        d = d[border:-border, border:-border]
        mask = None if mask is None else mask[border:-border, border:-border]
    mse = float(np.mean(d[mask] ** 2 if mask is not None else d ** 2))
    return 99.0 if mse <= 1e-12 else 10.0 * np.log10(1.0 / mse)


def ssim_map(a: np.ndarray, b: np.ndarray, sigma: float = 1.5) -> np.ndarray:
    """Per-pixel SSIM of the luma planes (Wang et al. 2004, Gaussian window)."""
    x, y = luma(a).astype(np.float64), luma(b).astype(np.float64)
    c1, c2 = 0.01 ** 2, 0.03 ** 2

    def blur(z):
        return cv2.GaussianBlur(z, (0, 0), sigma)

    mx, my = blur(x), blur(y)
    sxx = blur(x * x) - mx * mx
    syy = blur(y * y) - my * my
    sxy = blur(x * y) - mx * my
    return ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))


def ssim_y(a: np.ndarray, b: np.ndarray, border: int = 0) -> float:
    m = ssim_map(a, b)
    if border:
        m = m[border:-border, border:-border]
    return float(m.mean())


def static_mask(prev_src: np.ndarray, src: np.ndarray, threshold: float = 0.02) -> np.ndarray:
    """Where the source does not move: blurred luma changes less than ``threshold``."""
    d = np.abs(cv2.GaussianBlur(luma(src), (0, 0), 2) - cv2.GaussianBlur(luma(prev_src), (0, 0), 2))
    return d < threshold


class FlickerMeter:
    """Flicker index: temporal change of the output where the source is static, relative to the source's.

    1.0: the output flickers as much as the source; above 1: the restoration added
    flicker (typical of per-frame GANs); below 1: it steadied the picture. The source
    is resized to the output's size so both are measured on the same grid.
    """

    def __init__(self, threshold: float = 0.02):
        self.threshold = threshold
        self._prev: tuple[np.ndarray, np.ndarray] | None = None
        self.out_change = 0.0
        self.src_change = 0.0
        self.per_frame: list[float | None] = []

    def add(self, source: np.ndarray, output: np.ndarray) -> float | None:
        h, w = output.shape[:2]
        if source.shape[:2] != (h, w):
            source = cv2.resize(source, (w, h), interpolation=cv2.INTER_CUBIC)
        ys, yo = luma(source), luma(output)
        value = None
        if self._prev is not None:
            ps, po = self._prev
            mask = static_mask(ps, ys, self.threshold)
            if mask.any():
                do = float(np.abs(yo - po)[mask].sum())
                ds = float(np.abs(ys - ps)[mask].sum())
                self.out_change += do
                self.src_change += ds
                value = do / ds if ds > 0 else None
        self._prev = (ys, yo)
        self.per_frame.append(value)
        return value

    @property
    def index(self) -> float | None:
        return self.out_change / self.src_change if self.src_change > 0 else None
