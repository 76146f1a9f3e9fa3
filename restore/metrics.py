"""Image and video quality measures shared by stages' tests, benchmarks, training validation and the review report.

All take float32 RGB arrays in [0, 1].

Two lumas, for two purposes:

* ``luma``: BT.601 luma on the picture's own full range (0.299 R + 0.587 G + 0.114 B, 0 to 1), what stages
  and the review measure brightness, motion and structure on.
* ``y_channel``: BT.601 *limited-range* Y (16–235 of 255, ``(65.481 R + 128.553 G + 24.966 B + 16) / 255``),
  the Y of YCbCr that the super-resolution literature scores on: BasicSR's
  ``calculate_psnr``/``calculate_ssim(test_y_channel=True)``. ``psnr_y`` and ``ssim_y`` are computed on it,
  so our numbers compare with published tables. (On the same pair, full-range luma gives PSNR
  20·log10(255/219) ≈ 1.32 dB lower: pick one, and it is this one.)
"""

from __future__ import annotations

import cv2
import numpy as np

_Y = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_Y_LIMITED = np.array([65.481, 128.553, 24.966], dtype=np.float64) / 255.0   # BT.601 YCbCr Y, 8-bit scale
SSIM_WINDOW = 11         # Wang et al. 2004 / BasicSR: an 11×11 Gaussian window, σ 1.5, valid part only
SSIM_SIGMA = 1.5


def luma(image: np.ndarray) -> np.ndarray:
    """Full-range BT.601 luma (0 to 1) of float RGB; a single plane is returned as it is."""
    return image @ _Y if image.ndim == 3 else image


def y_channel(image: np.ndarray) -> np.ndarray:
    """BT.601 limited-range Y (16/255 to 235/255) of float RGB in [0, 1], as float64; a plane is returned as
    float64 unchanged (taken to be Y already). BasicSR's ``rgb2ycbcr(y_only=True)``."""
    if image.ndim == 2:
        return image.astype(np.float64)
    return image.astype(np.float64) @ _Y_LIMITED + 16.0 / 255.0


def psnr(a: np.ndarray, b: np.ndarray, border: int = 0, mask: np.ndarray | None = None,
         peak: float = 1.0) -> float:
    """PSNR of two arrays as given (planes of ``peak`` full scale), optionally without a border and only where
    ``mask`` is true. Identical arrays score 99 dB (not infinity), so averages over frames stay finite."""
    d = a.astype(np.float64) - b.astype(np.float64)
    if border:
        d = d[border:-border, border:-border]
        mask = None if mask is None else mask[border:-border, border:-border]
    mse = float(np.mean(d[mask] ** 2 if mask is not None else d ** 2)) / (peak * peak)
    return 99.0 if mse <= 1e-12 else float(10.0 * np.log10(1.0 / mse))


def psnr_y(a: np.ndarray, b: np.ndarray, border: int = 0, mask: np.ndarray | None = None) -> float:
    """PSNR of the BT.601 limited-range Y planes (``y_channel``) of two RGB pictures: BasicSR's
    ``calculate_psnr(test_y_channel=True, crop_border=border)``, without its 8-bit rounding (round first to
    score a saved frame), and 99 dB for identical pictures."""
    return psnr(y_channel(a), y_channel(b), border, mask)


def ssim(x: np.ndarray, y: np.ndarray, border: int = 0) -> float:
    """Mean SSIM (Wang et al. 2004) of two planes in [0, 1]: an 11×11 Gaussian window (σ 1.5) over its valid
    part, after ``border`` pixels are cut off each side; BasicSR's ``_ssim``."""
    x, y = x.astype(np.float64), y.astype(np.float64)
    if border:
        x, y = x[border:-border, border:-border], y[border:-border, border:-border]
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    kernel = cv2.getGaussianKernel(SSIM_WINDOW, SSIM_SIGMA)
    window = np.outer(kernel, kernel.transpose())
    r = SSIM_WINDOW // 2

    def blur(z: np.ndarray) -> np.ndarray:
        return cv2.filter2D(z, -1, window)[r:-r, r:-r]

    mx, my = blur(x), blur(y)
    sxx = blur(x * x) - mx * mx
    syy = blur(y * y) - my * my
    sxy = blur(x * y) - mx * my
    m = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return float(m.mean())


def ssim_y(a: np.ndarray, b: np.ndarray, border: int = 0) -> float:
    """SSIM of the BT.601 limited-range Y planes (``y_channel``) of two RGB pictures: BasicSR's
    ``calculate_ssim(test_y_channel=True, crop_border=border)``."""
    return ssim(y_channel(a), y_channel(b), border)


def static_mask(prev_src: np.ndarray, src: np.ndarray, threshold: float = 0.02) -> np.ndarray:
    """Where the source does not move: blurred luma changes less than ``threshold``."""
    d = np.abs(cv2.GaussianBlur(luma(src), (0, 0), 2) - cv2.GaussianBlur(luma(prev_src), (0, 0), 2))
    return d < threshold


class StaticFlickerRatio:
    """The flicker index: temporal change of the output where the source is static, relative to the source's.

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


def mean_interval(values, groups=None, seed: int = 0, draws: int = 4000) -> tuple[float, float]:
    """95 % bootstrap interval of the mean of ``values`` (paired differences, usually).

    ``groups`` labels values that are not independent witnesses (clips filmed from one crop): the
    bootstrap then draws whole groups, so one lucky group does not count as many.
    """
    values = np.asarray(values, np.float64)
    if values.size == 0:
        raise ValueError("no values to take an interval of")
    labels = np.arange(values.size) if groups is None else np.unique(np.asarray(groups), return_inverse=True)[1]
    sums = np.bincount(labels, weights=values)
    counts = np.bincount(labels).astype(np.float64)
    picks = np.random.default_rng(seed).integers(0, len(sums), (draws, len(sums)))
    means = sums[picks].sum(axis=1) / counts[picks].sum(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))
