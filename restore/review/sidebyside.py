"""``side_by_side.mp4``: BEFORE | AFTER at display aspect, for any player.

Frames are piped to ffmpeg as they are compared (constant memory); H.264 in
MP4 with yuv420p so that browsers and phones play it.
"""

from __future__ import annotations

import subprocess
import tempfile
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from restore.errors import OutputError


class SideBySideWriter:
    def __init__(self, path: Path, display_size: tuple[int, int], fps: Fraction, crf: int = 28):
        self.path = path
        self.width, self.height = display_size
        self._log = tempfile.TemporaryFile()
        cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{2 * self.width}x{self.height}",
               "-framerate", f"{fps.numerator}/{fps.denominator}", "-i", "pipe:0",
               "-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf), "-pix_fmt", "yuv420p",
               "-movflags", "+faststart", "-f", "mp4", str(path)]
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=self._log)
        self.frames = 0

    def _fit(self, image: np.ndarray) -> np.ndarray:
        image = (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)  # resampling 8-bit is several times faster
        h, w = image.shape[:2]
        if (w, h) == (self.width, self.height):
            return image
        shrinking = w > self.width and h > self.height
        return cv2.resize(image, (self.width, self.height),
                          interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)

    def write(self, before: np.ndarray, after: np.ndarray) -> None:
        both = np.concatenate([self._fit(before), self._fit(after)], axis=1)
        try:
            self._proc.stdin.write(both.tobytes())
        except BrokenPipeError:
            self._fail()
        self.frames += 1

    def _fail(self) -> None:
        self._proc.wait()
        self._log.seek(0)
        detail = self._log.read().decode("utf-8", "replace").strip().splitlines()
        raise OutputError(f"writing {self.path.name} failed: {detail[-1] if detail else 'ffmpeg stopped'}")

    def finish(self) -> Path:
        self._proc.stdin.close()
        if self._proc.wait() != 0:
            self._fail()
        self._log.close()
        return self.path

    def abort(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        self._log.close()
