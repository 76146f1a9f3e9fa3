"""Shared pieces of the archival-repair benchmarks (deinterlace, denoise, dust/scratches).

Ground truth is made here, at PAL size (720×576): progressive clips from ffmpeg's
lavfi sources and pans over corpus photos, which the benches then degrade
(interlace, grain, specks, scratches) and restore, scoring against the truth.
"""

from __future__ import annotations

import subprocess
import time
from fractions import Fraction
from typing import Iterable

import cv2
import numpy as np

from benchmarks.common import SHARED, table
from restore import metrics
from restore.metrics import luma
from restore.frame import Frame, VideoFormat
from restore.stages.base import StageContext

WIDTH, HEIGHT = 720, 576
CORPUS = SHARED / "corpora" / "general"
OLD_FILM = SHARED / "media" / "old-film"


# --- ground truth ---------------------------------------------------------------------

def lavfi_frames(source: str, count: int, width: int = WIDTH, height: int = HEIGHT, rate: int = 50) -> list[np.ndarray]:
    """``count`` frames of an ffmpeg lavfi source (e.g. testsrc2, mandelbrot) as float32 RGB."""
    argv = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi",
            "-i", f"{source}=s={width}x{height}:r={rate}", "-frames:v", str(count),
            "-f", "rawvideo", "-pix_fmt", "rgb48le", "pipe:1"]
    raw = subprocess.run(argv, capture_output=True, check=True).stdout
    frames = np.frombuffer(raw, "<u2").reshape(count, height, width, 3)
    return [f.astype(np.float32) / 65535.0 for f in frames]


def photo(name: str) -> np.ndarray:
    image = cv2.imread(str(CORPUS / name), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(CORPUS / name)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0


def pan(image: np.ndarray, count: int, dx: float, dy: float, width: int = WIDTH, height: int = HEIGHT,
        zoom: float = 1.0) -> list[np.ndarray]:
    """A camera pan: sub-pixel translations (bicubic) of ``image`` scaled to cover the frame and
    the pan's travel, ``dx, dy`` pixels per frame; ``zoom`` > 1 magnifies further."""
    travel_x, travel_y = abs(dx) * count + 16, abs(dy) * count + 16
    scale = zoom * max((width + travel_x) / image.shape[1], (height + travel_y) / image.shape[0])
    frames = []
    for k in range(count):
        matrix = np.float32([[scale, 0, -k * dx - 8], [0, scale, -k * dy - 8]])
        frames.append(cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_CUBIC,
                                     borderMode=cv2.BORDER_REFLECT).clip(0, 1))
    return frames


def interlace(progressive: list[np.ndarray], tff: bool) -> list[np.ndarray]:
    """Weave progressive frames (2k, 2k+1) into interlaced frames; the first field is the earlier one."""
    out = []
    for k in range(len(progressive) // 2):
        first, second = progressive[2 * k], progressive[2 * k + 1]
        top, bottom = (first, second) if tff else (second, first)
        woven = top.copy()
        woven[1::2] = bottom[1::2]
        out.append(woven)
    return out


def film_grain(images: list[np.ndarray], sigma: float = 6 / 255, seed: int = 11) -> list[np.ndarray]:
    """Spatially correlated (≈1 px) monochrome grain of standard deviation ``sigma``."""
    rng = np.random.default_rng(seed)
    out = []
    for img in images:
        noise = cv2.GaussianBlur(rng.normal(0, 1, img.shape[:2]).astype(np.float32), (0, 0), 0.7)
        noise *= sigma / noise.std()
        out.append(np.clip(img + noise[..., None], 0, 1).astype(np.float32))
    return out


def read_old_film(name: str, count: int) -> tuple[list[np.ndarray], Fraction]:
    from restore.media import read_frames

    frames = [f.image for f in read_frames(OLD_FILM / name, max_frames=count)]
    rate = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                           "stream=r_frame_rate", "-of", "csv=p=0", str(OLD_FILM / name)],
                          capture_output=True, text=True, check=True).stdout.strip()
    return frames, Fraction(rate)


# --- running a stage -----------------------------------------------------------------------

def run_stage(stage_cls, params, images: list[np.ndarray], fps: Fraction = Fraction(25),
              field_order: str = "progressive") -> tuple[list[np.ndarray], float]:
    """Output images and steady-state output frames per second.

    The rate is timed from the first output frame to the last, so it leaves out the
    process start (ffmpeg ≈0.1 s, VapourSynth with vsjetpack 1–3 s), which would
    otherwise dominate on these short clips; pipes and conversions are included.
    """
    h, w = images[0].shape[:2]
    fmt = VideoFormat(width=w, height=h, fps=fps, field_order=field_order)
    stage = stage_cls(params, StageContext(source_format=fmt, input_format=fmt))
    stage.setup()
    frames = [Frame(index=i, pts=Fraction(i) / fps, image=img) for i, img in enumerate(images)]
    out, first_at = [], None
    for frame in stage.run(iter(frames)):
        out.append(frame.image)
        if first_at is None:
            first_at = time.perf_counter()
    elapsed = time.perf_counter() - first_at
    return out, (len(out) - 1) / elapsed if elapsed > 0 else float("inf")


# --- metrics -------------------------------------------------------------------------------

def psnr_y(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None, border: int = 8) -> float:
    """restore.metrics.psnr_y with the benches' 8-px border and the mask as third argument."""
    return metrics.psnr_y(a, b, border=border, mask=mask)


def ssim_y(a: np.ndarray, b: np.ndarray, border: int = 8) -> float:
    """restore.metrics.ssim_y with the benches' 8-px border."""
    return metrics.ssim_y(a, b, border=border)


def laplacian(y: np.ndarray) -> np.ndarray:
    return cv2.Laplacian(y.astype(np.float32), cv2.CV_32F)


def detail_kept(out: np.ndarray, truth: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Share of the truth's fine detail (Laplacian) present in ``out``; noise is not credited."""
    lo, lt = laplacian(luma(out)), laplacian(luma(truth))
    if mask is not None:
        lo, lt = lo[mask], lt[mask]
    return float(np.sum(lo * lt) / np.sum(lt * lt))


def textured(truth: np.ndarray, share: float = 0.25) -> np.ndarray:
    """The most textured ``share`` of the picture (by local Laplacian energy)."""
    energy = cv2.GaussianBlur(laplacian(luma(truth)) ** 2, (0, 0), 4)
    return energy >= np.quantile(energy, 1 - share)


def flicker(images: list[np.ndarray]) -> float:
    """Mean absolute frame-to-frame luma change (8-bit units): zero for a still truth."""
    ys = [luma(i) for i in images]
    return float(np.mean([np.mean(np.abs(b - a)) for a, b in zip(ys, ys[1:])]) * 255)


def mean(values: Iterable[float]) -> float:
    values = list(values)
    return float(sum(values) / len(values))


# --- tables ----------------------------------------------------------------------------------

def paired(a: np.ndarray, b: np.ndarray, seed: int = 0) -> tuple[float, float, float, float]:
    """Mean of a − b, its 95 % bootstrap interval, and the share of images where a > b."""
    from restore.metrics import mean_interval

    diff = a - b
    low, high = mean_interval(diff, seed=seed)
    return float(diff.mean()), low, high, float((diff > 0).mean())


def print_table(title: str, header: list[str], rows: list[list], note: str = "") -> None:
    print(f"\n## {title}")
    print(table(header, rows))
    if note:
        print(note)
