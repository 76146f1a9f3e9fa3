"""Pictures and clips for the degradation and analysis tests, made from numpy alone."""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import numpy as np


def natural_image(seed: int, height: int = 256, width: int = 256) -> np.ndarray:
    """Shapes with hard and soft edges over a smooth background and fine texture: enough
    structure for edge, blocking and comb measures, in float32 RGB [0, 1]."""
    rng = np.random.default_rng(seed)
    coarse = rng.random((height // 32 + 2, width // 32 + 2, 3)).astype(np.float32)
    img = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC) * 0.5 + 0.25
    for _ in range(12):
        colour = rng.random(3).tolist()
        x0, y0 = int(rng.integers(0, width - 8)), int(rng.integers(0, height - 8))
        x1, y1 = x0 + int(rng.integers(8, width // 3)), y0 + int(rng.integers(8, height // 3))
        if rng.random() < 0.5:
            cv2.rectangle(img, (x0, y0), (x1, y1), colour, -1)
        else:
            cv2.circle(img, (x0, y0), int(rng.integers(4, width // 6)), colour, -1, lineType=cv2.LINE_AA)
    texture = cv2.GaussianBlur(rng.standard_normal((height, width)).astype(np.float32), (0, 0), 1.0)
    img += 0.03 * texture[..., None]
    return np.clip(img, 0, 1).astype(np.float32)


def flat_image(height: int = 200, width: int = 200, level: float = 0.5) -> np.ndarray:
    return np.full((height, width, 3), level, np.float32)


def write_ffv1(path: Path, frames: list[np.ndarray], fps: int = 25) -> Path:
    """Frames (float RGB) into a lossless clip, for the commands that read files."""
    h, w = frames[0].shape[:2]
    data = b"".join(np.round(np.clip(f, 0, 1) * 255).astype(np.uint8).tobytes() for f in frames)
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
                    "-s", f"{w}x{h}", "-r", str(fps), "-i", "pipe:0", "-c:v", "ffv1", "-pix_fmt", "bgr0",
                    str(path)], input=data, check=True)
    return path
