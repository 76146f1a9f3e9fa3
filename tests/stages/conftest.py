"""Tiny generated clips for stage tests (numpy only; 160×120, a dozen frames).

The moving pictures have a known progressive truth, so interlacing them and
deinterlacing back, or adding grain/specks and removing them, can be scored.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from restore import metrics
import pytest
from scipy import ndimage

from restore.frame import Frame, VideoFormat
from restore.stages._vapoursynth import vapoursynth_available
from restore.stages.base import StageContext

WIDTH, HEIGHT = 160, 120


def textured_background(width: int, height: int, seed: int = 1, fine: bool = True) -> np.ndarray:
    """A wide RGB canvas: smooth random texture, with thin vertical/horizontal lines when ``fine``."""
    rng = np.random.default_rng(seed)
    w = width * 2
    y, x = np.mgrid[0:height, 0:w].astype(np.float32)
    base = 0.45 + 0.15 * np.sin(x / 9.0) * np.cos(y / 7.0)
    lines = 0.18 * (np.sin(x * 0.9) > 0.6) * (y % 16 < 12)          # fine vertical detail
    rows = 0.12 * ((y // 3) % 2) * (x > w * 0.55)                     # thin horizontal lines (interlace-hard)
    coarse = rng.random((height // 8 + 1, w // 8 + 1)).astype(np.float32)
    coarse = np.kron(coarse, np.ones((8, 8), np.float32))[:height, :w]
    if not fine:   # soft picture (old film): the fine lines go, the blocks are smoothed
        lines = rows = 0.0
        coarse = ndimage.gaussian_filter(coarse, 3)
    luma = np.clip(base + lines + rows + 0.15 * (coarse - 0.5), 0, 1)
    tint = np.stack([luma, 0.9 * luma + 0.05, 0.8 * luma + 0.1], axis=-1)
    return np.clip(tint, 0, 1).astype(np.float32)


def moving_truth(count: int, width: int = WIDTH, height: int = HEIGHT, speed: float = 1.5,
                 box_speed: int = 4, seed: int = 1, fine: bool = True) -> list[np.ndarray]:
    """Progressive frames: a panning background and a bright box moving faster."""
    canvas = textured_background(width, height, seed, fine)
    frames = []
    for k in range(count):
        shift = k * speed
        i = int(shift)
        frac = shift - i
        view = (1 - frac) * canvas[:, i:i + width] + frac * canvas[:, i + 1:i + 1 + width]
        view = view.copy()
        bx = 10 + k * box_speed
        view[40:70, bx:bx + 24] = (0.95, 0.2, 0.15)
        frames.append(view.astype(np.float32))
    return frames


def interlace(progressive: list[np.ndarray], tff: bool = True) -> list[np.ndarray]:
    """Weave pairs of progressive frames (2k, 2k+1) into interlaced frames."""
    out = []
    for k in range(len(progressive) // 2):
        first, second = progressive[2 * k], progressive[2 * k + 1]
        woven = np.empty_like(first)
        top, bottom = (first, second) if tff else (second, first)
        woven[0::2] = top[0::2]
        woven[1::2] = bottom[1::2]
        out.append(woven)
    return out


def to_frames(images: list[np.ndarray], fps: Fraction = Fraction(25)) -> list[Frame]:
    return [Frame(index=i, pts=Fraction(i) / fps, image=img) for i, img in enumerate(images)]


def psnr_y(a: np.ndarray, b: np.ndarray, border: int = 4) -> float:
    return metrics.psnr_y(a, b, border=border)


def context_for(width=WIDTH, height=HEIGHT, fps=Fraction(25), field_order="progressive") -> StageContext:
    fmt = VideoFormat(width=width, height=height, fps=fps, field_order=field_order)
    return StageContext(source_format=fmt, input_format=fmt)


needs_vapoursynth = pytest.mark.skipif(
    not vapoursynth_available(),
    reason="VapourSynth environment (.venv-vs) not set up: run make install",
)


@pytest.fixture
def no_vapoursynth(monkeypatch, tmp_path):
    """Pretend VapourSynth is absent (the ffmpeg-only path)."""
    from restore.stages import _vapoursynth

    monkeypatch.setenv("RESTORE_VS_PYTHON", str(tmp_path / "missing-python"))
    _vapoursynth._notified.clear()
    yield


def detail_kept(out: np.ndarray, truth: np.ndarray) -> float:
    """Share of the truth's fine detail (Laplacian) present in ``out``; noise is not credited."""
    weights = np.array([0.299, 0.587, 0.114], np.float32)

    def laplacian(img):
        y = img @ weights
        return (4 * y[1:-1, 1:-1] - y[:-2, 1:-1] - y[2:, 1:-1] - y[1:-1, :-2] - y[1:-1, 2:])

    lo, lt = laplacian(out), laplacian(truth)
    return float(np.sum(lo * lt) / np.sum(lt * lt))


def add_grain(images: list[np.ndarray], sigma: float = 6 / 255, seed: int = 5) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [np.clip(img + rng.normal(0, sigma, img.shape[:2])[..., None], 0, 1).astype(np.float32)
            for img in images]


def add_specks(images: list[np.ndarray], per_frame: int = 6, seed: int = 7,
               avoid: tuple[slice, slice] | None = None) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Dark and bright one-frame blobs (radius 2) at random places; returns (images, defect masks)."""
    rng = np.random.default_rng(seed)
    h, w = images[0].shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    out, masks = [], []
    previous = np.zeros((h, w), bool)
    for img in images:
        img = img.copy()
        mask = np.zeros((h, w), bool)
        for _ in range(per_frame):
            while True:   # dust does not land twice on the same spot in consecutive frames
                cy, cx = rng.integers(6, h - 6), rng.integers(6, w - 6)
                if previous[max(cy - 6, 0):cy + 7, max(cx - 6, 0):cx + 7].any():
                    continue
                if avoid is None or not (avoid[0].start - 4 <= cy < avoid[0].stop + 4
                                         and avoid[1].start - 4 <= cx < avoid[1].stop + 4):
                    break
            blob = (yy - cy) ** 2 + (xx - cx) ** 2 <= 4
            img[blob] = 0.02 if rng.random() < 0.5 else 0.98
            mask |= blob
        out.append(img)
        masks.append(mask)
        previous = mask
    return out, masks


def add_scratches(images: list[np.ndarray], columns=(52, 97, 131), contrast: float = 0.2,
                  seed: int = 3) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Vertical 1–2 px lines over rows 8..H-8 that wander by a pixel; returns (images, defect masks)."""
    rng = np.random.default_rng(seed)
    out, masks = [], []
    for img in images:
        img = img.copy()
        h, w = img.shape[:2]
        mask = np.zeros((h, w), bool)
        for i, x in enumerate(columns):
            x += int(rng.integers(-1, 2))
            width = 1 + (i % 2)
            sign = 1 if i % 2 == 0 else -1
            img[8:h - 8, x:x + width] = np.clip(img[8:h - 8, x:x + width] + sign * contrast, 0, 1)
            mask[8:h - 8, x:x + width] = True
        out.append(img)
        masks.append(mask)
    return out, masks


def add_shutter_edge(images: list[np.ndarray], x: int = 30, factor: float = 0.6) -> list[np.ndarray]:
    """A vertical brightness step (the frame-line/shutter edge of old film) at column ``x``."""
    out = []
    for img in images:
        img = img.copy()
        img[:, :x] *= factor
        out.append(img)
    return out
