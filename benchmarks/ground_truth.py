"""Clean synthetic truths and the damage each stage exists to undo, for fidelity tests and benches.

A truth is a list of float32 RGB frames in [0, 1]. Each ``degrade_*`` function makes the
input a stage is meant to repair (interlacing, noise, flicker, dust, scratches, shake,
borders, faded levels, lost resolution); ``write_clip`` stores frames as a tagged file
the pipeline can read, level-exact; ``read_clip`` decodes a result the way the project
does (explicit matrix and range, accurate swscale); ``fidelity`` scores frames against
the truth. Nothing here needs ../shared (the benches may pass in corpus photographs).
"""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from restore.media.decode import read_frames, sws_flags
from restore.media.pixfmt import rgb16_white
from restore.metrics import luma, psnr_y, ssim_y


# --- truths ---------------------------------------------------------------------------

def scene(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A picture with the statistics of a photograph: 1/f texture in colour, hard-edged shapes,
    thin lines and flat areas, mid-toned (no clipping)."""
    rng = np.random.default_rng(seed)
    img = np.zeros((height, width, 3), np.float32)
    for size in (96, 48, 24, 12, 6, 3):                       # octaves: amplitude ∝ size (≈ 1/f)
        grid = rng.normal(0, 1, (height // size + 3, width // size + 3, 3)).astype(np.float32)
        up = cv2.resize(grid, (grid.shape[1] * size, grid.shape[0] * size), interpolation=cv2.INTER_CUBIC)
        img += 0.05 * (size / 24) ** 0.5 * up[:height, :width]
    img = 0.5 + img - img.mean(axis=(0, 1))
    for _ in range(14):                                        # objects with sharp edges
        colour = rng.uniform(0.15, 0.85, 3)
        x, y = rng.integers(0, width), rng.integers(0, height)
        if rng.random() < 0.5:
            cv2.rectangle(img, (int(x), int(y)), (int(x + rng.integers(8, width // 4)),
                                                  int(y + rng.integers(8, height // 4))), colour.tolist(), -1)
        else:
            cv2.circle(img, (int(x), int(y)), int(rng.integers(4, height // 6)), colour.tolist(), -1,
                       lineType=cv2.LINE_AA)
    for _ in range(10):                                        # thin lines: detail interlacing and SR care about
        p, q = rng.integers(0, [width, height], 2), rng.integers(0, [width, height], 2)
        cv2.line(img, tuple(int(v) for v in p), tuple(int(v) for v in q), rng.uniform(0.1, 0.9, 3).tolist(), 1,
                 lineType=cv2.LINE_AA)
    return np.clip(img, 0.04, 0.96).astype(np.float32)


def pan(picture: np.ndarray, count: int, width: int, height: int, dx: float = 1.5, dy: float = 0.5
        ) -> list[np.ndarray]:
    """A camera pan over ``picture`` (sub-pixel, bicubic), ``dx, dy`` pixels a frame."""
    scale = max((width + abs(dx) * count + 8) / picture.shape[1], (height + abs(dy) * count + 8) / picture.shape[0], 1)
    frames = []
    for k in range(count):
        m = np.float32([[scale, 0, -k * dx - 4], [0, scale, -k * dy - 4]])
        frames.append(np.clip(cv2.warpAffine(picture, m, (width, height), flags=cv2.INTER_CUBIC,
                                             borderMode=cv2.BORDER_REFLECT), 0, 1))
    return frames


def full_range(frames: list[np.ndarray], low: float = 0.03, high: float = 0.97) -> list[np.ndarray]:
    """Frames stretched (one gain and offset for the clip) so luma spans ``low``–``high``: a picture
    with real blacks and whites, what a levels correction assumes the truth to be."""
    y = np.stack([luma(f) for f in frames])
    lo, hi = np.percentile(y, [0.5, 99.5])
    return [np.clip((f - lo) * ((high - low) / (hi - lo)) + low, 0, 1).astype(np.float32) for f in frames]


# --- damage ---------------------------------------------------------------------------

def interlace(progressive: list[np.ndarray], tff: bool = True) -> list[np.ndarray]:
    """Weave frames (2k, 2k+1) into one interlaced frame; the first field is the earlier picture."""
    out = []
    for k in range(len(progressive) // 2):
        first, second = progressive[2 * k], progressive[2 * k + 1]
        woven = first.copy()
        rows = slice(1, None, 2) if tff else slice(0, None, 2)
        woven[rows] = second[rows]
        out.append(woven)
    return out


def noise(frames: list[np.ndarray], sigma: float = 6 / 255, seed: int = 5, grain: float = 0.7
          ) -> list[np.ndarray]:
    """Luma noise (grain of ``grain`` px, 0 for white noise) of standard deviation ``sigma``."""
    rng = np.random.default_rng(seed)
    out = []
    for f in frames:
        n = rng.normal(0, 1, f.shape[:2]).astype(np.float32)
        if grain:
            n = cv2.GaussianBlur(n, (0, 0), grain)
            n *= 1 / max(float(n.std()), 1e-6)
        out.append(np.clip(f + sigma * n[..., None], 0, 1).astype(np.float32))
    return out


def flicker(frames: list[np.ndarray], amount: float = 0.12, seed: int = 3, local: bool = False) -> list[np.ndarray]:
    """Exposure pumping of ±``amount`` from frame to frame (uneven across the picture when ``local``)."""
    rng = np.random.default_rng(seed)
    out = []
    for f in frames:
        gain = 1 + amount * rng.uniform(-1, 1)
        if local:
            h, w = f.shape[:2]
            ramp = np.linspace(-1, 1, w, dtype=np.float32)[None, :, None]
            gain = gain + amount * rng.uniform(-1, 1) * ramp
        out.append(np.clip(f * gain, 0, 1).astype(np.float32))
    return out


def dust(frames: list[np.ndarray], per_frame: int = 8, seed: int = 7) -> list[np.ndarray]:
    """One-frame specks, dark and bright, radius 1–3 px, never twice in the same place."""
    rng = np.random.default_rng(seed)
    out = []
    for f in frames:
        f = f.copy()
        h, w = f.shape[:2]
        for _ in range(per_frame):
            centre = (int(rng.integers(6, w - 6)), int(rng.integers(6, h - 6)))
            value = 0.03 if rng.random() < 0.5 else 0.97
            cv2.circle(f, centre, int(rng.integers(1, 4)), (value,) * 3, -1, lineType=cv2.LINE_AA)
        out.append(f)
    return out


def scratches(frames: list[np.ndarray], columns: tuple[float, ...] = (0.3, 0.62), contrast: float = 0.18,
              seed: int = 3) -> list[np.ndarray]:
    """Long vertical 1–2 px lines (bright and dark) that wander by a pixel from frame to frame."""
    rng = np.random.default_rng(seed)
    out = []
    for f in frames:
        f = f.copy()
        h, w = f.shape[:2]
        for i, c in enumerate(columns):
            x = int(c * w) + int(rng.integers(-1, 2))
            f[4:h - 4, x:x + 1 + i % 2] += contrast if i % 2 == 0 else -contrast
        out.append(np.clip(f, 0, 1).astype(np.float32))
    return out


def shake(frames: list[np.ndarray], pixels: float = 3.0, seed: int = 9) -> list[np.ndarray]:
    """Random translation jitter of up to ``pixels`` (camera or gate weave), edges replicated."""
    rng = np.random.default_rng(seed)
    out = []
    for f in frames:
        dx, dy = rng.uniform(-pixels, pixels, 2)
        m = np.float32([[1, 0, dx], [0, 1, dy]])
        out.append(cv2.warpAffine(f, m, f.shape[1::-1], flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE))
    return out


def borders(frames: list[np.ndarray], x: int, y: int) -> list[np.ndarray]:
    """Black bars of ``x`` columns left and right and ``y`` rows top and bottom over the picture."""
    out = []
    for f in frames:
        f = f.copy()
        f[:y], f[f.shape[0] - y:], f[:, :x], f[:, f.shape[1] - x:] = 0, 0, 0, 0
        out.append(f)
    return out


def faded(frames: list[np.ndarray], black: float = 0.08, white: float = 0.85,
          cast: tuple[float, float, float] = (1.06, 1.0, 0.92)) -> list[np.ndarray]:
    """Lifted blacks, dimmed whites and a colour cast: a faded print or a misaligned transfer."""
    return [np.clip((black + f * (white - black)) * np.float32(cast), 0, 1).astype(np.float32) for f in frames]


def downscale(frames: list[np.ndarray], factor: int = 2) -> list[np.ndarray]:
    """Area downscale: the lower-resolution recording of a finer truth."""
    return [cv2.resize(f, (f.shape[1] // factor, f.shape[0] // factor), interpolation=cv2.INTER_AREA)
            for f in frames]


# --- files ----------------------------------------------------------------------------

PAL = ("bt470bg", "smpte170m", "bt470bg")


def write_clip(frames: list[np.ndarray], path: Path, fps: Fraction | int = 25, *, field: str = "prog",
               pix_fmt: str = "yuv420p", codec: list[str] | None = None, sar: str = "1/1",
               tagged: bool = True) -> Path:
    """Frames into a BT.601 file, level-exact (16-bit RGB on the pipe, scaled to swscale's own white).

    ``field``: prog | tff | bff; ``codec``: ffmpeg codec arguments (default lossless FFV1);
    ``tagged``: write PAL colour tags (False: leave the file untagged, as many transfers are)."""
    h, w = frames[0].shape[:2]
    fps = Fraction(fps)
    interl = ":interl=1" if field != "prog" else ""
    params = [f"field_mode={field}", "range=tv"] + (
        [f"color_primaries={PAL[0]}", f"color_trc={PAL[1]}", f"colorspace={PAL[2]}"] if tagged else [])
    vf = (f"scale=in_range=pc:out_color_matrix=bt601:out_range=tv{interl},format={pix_fmt},setsar={sar},"
          f"setparams={':'.join(params)}")
    args = codec or ["-c:v", "ffv1"]
    if field != "prog" and codec and any(c in ("mpeg2video", "libx264") for c in codec):
        args = [*args, "-flags", "+ildct+ilme", "-top", "1" if field == "tff" else "0"]
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb48le", "-s", f"{w}x{h}",
           "-framerate", f"{fps.numerator}/{fps.denominator}", "-i", "pipe:0", "-sws_flags", sws_flags(),
           "-vf", vf, *args, str(path)]
    white = float(rgb16_white())
    data = b"".join((np.clip(f, 0, 1) * white + 0.5).astype("<u2").tobytes() for f in frames)
    subprocess.run(cmd, input=data, check=True)
    return Path(path)


def read_clip(path: Path) -> list[np.ndarray]:
    return [f.image for f in read_frames(path)]


# --- scores ---------------------------------------------------------------------------

def at_size(frames: list[np.ndarray], width: int, height: int) -> list[np.ndarray]:
    """Frames brought to ``width``×``height`` (area when shrinking, bicubic when growing)."""
    out = []
    for f in frames:
        if f.shape[:2] != (height, width):
            mode = cv2.INTER_AREA if f.shape[0] > height else cv2.INTER_CUBIC
            f = np.clip(cv2.resize(f, (width, height), interpolation=mode), 0, 1)
        out.append(f)
    return out


def fidelity(frames: list[np.ndarray], truth: list[np.ndarray], border: int = 4,
             mask: np.ndarray | None = None) -> dict:
    """PSNR-Y, SSIM-Y and mean-level shift (8-bit levels) of ``frames`` against ``truth`` (same size)."""
    assert len(frames) == len(truth), (len(frames), len(truth))
    return {"psnr": float(np.mean([psnr_y(a, b, border, mask) for a, b in zip(frames, truth)])),
            "ssim": float(np.mean([ssim_y(a, b, border) for a, b in zip(frames, truth)])),
            "shift": float(np.mean([luma(a).mean() - luma(b).mean() for a, b in zip(frames, truth)]) * 255)}
