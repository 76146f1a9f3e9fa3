"""One restoration per face track, not per frame: the face held steady where it holds still.

A face network sees each frame's noise and grain anew and answers each with slightly
different invented detail; pasted back frame by frame, that difference is flicker on
the face. Per track, the restored face (in aligned coordinates, where head motion has
already been taken out by the alignment) is therefore a running average: pixel by pixel,
the previous average is kept with weight ``strength`` where the aligned input did not
change since the previous frame, and progressively less where it did (an eye blinking,
the mouth speaking, a hand passing), so motion is followed at once and never smeared.
A change of the whole crop (a cut, a turn, a different face under the same track)
starts the average again; a change of exposure moves the past average with it.

Averaging the *correction* (restored − aligned input) instead, the default until
2026-12-07 (``average="correction"``), steadies only the network's invention: the
result is the frame plus the average correction, so each frame's own noise comes back
with it, and on still faces with fresh noise the face boiled more than with per-frame
restoration (``python -m benchmarks faces``, output flicker). Both replace a single
global carry-over of the previous frame's correction, which either smeared speech (high
weight) or left the static face flickering (low weight).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

# Mean absolute change (0–1 units) of the blurred aligned crop between two frames above
# which the whole face is taken to have changed: a cut or a different face.
CUT_CHANGE = 0.06


def _luma(image: np.ndarray) -> np.ndarray:
    return image @ np.array([0.299, 0.587, 0.114], np.float32) if image.ndim == 3 else image


@dataclass
class _State:
    crop: np.ndarray           # the previous frame's aligned input, blurred luma
    average: np.ndarray        # the running average (of the restored face, or of the correction)
    level: float = 0.0         # the previous aligned input's median luma


@dataclass
class TrackSmoother:
    """Per-track, motion-aware running average of the restored face (or of the correction).

    ``strength`` is the weight kept from the average where the face is still (0: off,
    per-frame corrections); ``motion`` is the local change of the blurred aligned input
    (0–1 units) at which the average is no longer used at that pixel.
    """

    strength: float = 0.7
    motion: float = 0.03
    average: str = "face"      # or "correction" (see the module's docstring)
    tracks: dict[int, _State] = field(default_factory=dict)

    def weights(self, before: np.ndarray, now: np.ndarray) -> np.ndarray | None:
        """Per-pixel weight of the past (H×W×1), or None when the whole face changed."""
        change = np.abs(now - before)
        if float(change.mean()) > CUT_CHANGE:
            return None
        # the change map is blurred again so a single moving feature gives a soft region,
        # not a hard-edged hole in the average
        sigma = max(1.0, now.shape[0] / 64.0)
        change = cv2.GaussianBlur(change, (0, 0), sigma)
        return (self.strength * np.clip(1.0 - change / self.motion, 0.0, 1.0))[:, :, None]

    def update(self, track: int, crop: np.ndarray, correction: np.ndarray) -> np.ndarray:
        """The correction to apply to this frame of ``track`` (``crop`` its aligned input)."""
        # grain and compression noise are not motion: compare the crops after a blur of
        # about 1.5 px at 128 px (the alignment is sub-pixel, so this does not hide motion)
        sigma = max(0.8, crop.shape[0] / 85.0)
        now = cv2.GaussianBlur(_luma(crop.astype(np.float32)), (0, 0), sigma)
        # nor is a change of exposure (film flicker, a fade): compare the crops' shapes, not their levels
        level = float(np.median(now))
        now -= level
        # averaging the restored face rather than the correction also steadies what the frame itself
        # brings (its noise and grain, which the correction would carry back); the past face then
        # follows the frame's level, so an exposure change is not smeared
        face = self.average == "face"
        value = crop + correction if face else correction
        state = self.tracks.get(track)
        if state is None or self.strength <= 0 or state.average.shape != correction.shape:
            smoothed = value
        else:
            w = self.weights(state.crop, now)
            past = state.average + (level - state.level) if face else state.average
            smoothed = value if w is None else w * past + (1.0 - w) * value
        self.tracks[track] = _State(now, smoothed.astype(np.float32), level)
        return smoothed - crop if face else smoothed

    def forget(self, alive: set[int]) -> None:
        """Drop the state of tracks that ended."""
        for gone in [t for t in self.tracks if t not in alive]:
            del self.tracks[gone]
