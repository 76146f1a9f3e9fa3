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

Three things make the average hold what a still face really offers. The past is first
registered onto the present crop (an affine ECC match of the blurred crops): the landmarks
of a small noisy face wobble, and crops averaged where they lie blurred the face enough to
lose against per-frame restoration. A young track is a plain mean of its frames (weight
n / (n + 1) for the n frames held, up to ``strength``), not a fixed weight that would lean
on its first frame. And the change every pixel of a still face shows anyway (noise left
after the blur) is the crop's median change, taken off before a pixel counts as moving.

The running average is causal; ``settle`` centres it once the next frames of the track are
known (the stage's ``lookahead``): each later frame, registered onto the present one, joins the
average where the face held still against it.

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
# The most of ``motion`` that a face's own frame-to-frame noise may take before it counts as motion.
NOISE_FLOOR_SHARE = 1 / 3
# Registration beyond this share of the crop is not wobble but a failed match.
MAX_SHIFT_SHARE = 0.05
REGISTER_SIDE = 128


def _luma(image: np.ndarray) -> np.ndarray:
    return image @ np.array([0.299, 0.587, 0.114], np.float32) if image.ndim == 3 else image


def register(before: np.ndarray, now: np.ndarray) -> np.ndarray | None:
    """The affine warp (2×3, ECC) that carries the crop ``before`` onto ``now`` (blurred luma), or None.

    The five landmarks of a small, noisy face wobble from frame to frame (a fraction of a pixel,
    a little rotation and scale), so two aligned crops of a still face are not quite on top of
    each other; averaged as they are, the face would blur. The crops themselves say how far
    apart they are. None when they hold nothing to register on, or the match moves a corner
    further than ``MAX_SHIFT_SHARE`` of the crop (not a wobble: a failed match).
    """
    h, w = before.shape[:2]
    # the crops are blurred already: matched at REGISTER_SIDE px, a quarter of the time at 256
    k = min(1.0, REGISTER_SIDE / max(h, w))
    small = [cv2.resize(c, None, fx=k, fy=k, interpolation=cv2.INTER_AREA) if k < 1 else c for c in (before, now)]
    a, b = (c - c.mean() for c in small)
    scale = max(float(a.std()), 1e-6)
    warp = np.eye(2, 3, dtype=np.float32)
    try:
        _, warp = cv2.findTransformECC(a / scale, b / scale, warp, cv2.MOTION_AFFINE,
                                       (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 50, 1e-5), None, 1)
    except cv2.error:            # no texture to register on, or no convergence: take them as they are
        return None
    warp[:, 2] /= k
    corners = np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]], np.float32)
    moved = corners @ warp.T - corners[:, :2]
    if float(np.abs(moved).max()) > h * MAX_SHIFT_SHARE:
        return None
    # a moving part (the mouth opening) can pull the whole-crop fit off; the still rest of the
    # face, most of it, must come out closer than without the warp (the median ignores the part)
    if np.median(np.abs(warped(before, warp) - now)) >= np.median(np.abs(before - now)):
        return None
    return warp


def warped(image: np.ndarray, warp: np.ndarray | None) -> np.ndarray:
    """``image`` (a past crop, or the average) carried onto the present crop by ``register``'s warp."""
    if warp is None:
        return image
    # ECC finds now(W x) ≈ before(x); warpAffine with W gives before(W⁻¹ y): the past on the present
    out = cv2.warpAffine(image, warp, (image.shape[1], image.shape[0]), flags=cv2.INTER_CUBIC,
                         borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(image.shape)


@dataclass
class _State:
    crop: np.ndarray           # the previous frame's aligned input, blurred luma
    average: np.ndarray        # the running average (of the restored face, or of the correction)
    level: float = 0.0         # the previous aligned input's median luma
    frames: np.ndarray | float = 1.0   # per pixel, how many frames the average holds (motion restarts it)


@dataclass
class Look:
    """One frame of a track as the smoother saw it: what a later look-ahead needs of it."""

    now: np.ndarray            # the aligned input, blurred luma, its level taken off
    level: float               # that level (median luma)
    value: np.ndarray          # this frame's own restored face (or correction)
    smoothed: np.ndarray       # the causal average up to and including this frame
    frames: np.ndarray | float  # per pixel, how many frames that average holds


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

    def stillness(self, before: np.ndarray, now: np.ndarray) -> np.ndarray | None:
        """Per pixel, 1 where the face held still since the previous frame, falling to 0 with
        motion (H×W×1); None when the whole face changed."""
        change = np.abs(now - before)
        if float(change.mean()) > CUT_CHANGE:
            return None
        # the change map is blurred again so a single moving feature gives a soft region,
        # not a hard-edged hole in the average
        sigma = max(1.0, now.shape[0] / 64.0)
        change = cv2.GaussianBlur(change, (0, 0), sigma)
        # the change a still face shows anyway (noise and compression left after the blur, the
        # alignment's sub-pixel wobble) is the crop's typical change: motion is local (an eye, the
        # mouth), so the median is the floor; capped, so a face that changes everywhere is motion
        floor = min(float(np.median(change)), self.motion * NOISE_FLOOR_SHARE)
        return np.clip(1.0 - (change - floor) / (self.motion - floor), 0.0, 1.0)[:, :, None]

    def update(self, track: int, crop: np.ndarray, correction: np.ndarray) -> np.ndarray:
        """The correction to apply to this frame of ``track`` (``crop`` its aligned input), from its past only."""
        return self.settle(self.observe(track, crop, correction), [], crop)

    def settle(self, present: Look, future: list[Look], crop: np.ndarray) -> np.ndarray:
        """The correction for the frame ``present`` once the next frames of its track (``future``, in
        order) are known: the causal average, plus each later frame registered onto this one where
        the face held still between them.

        A causal average lags: on a clip's first frames, and after every motion, it holds only the
        frames before. The frames after are as good a witness of a still face, and the window is
        then centred where the face is; a pixel that moved before the present (the mouth closing)
        is still averaged with the frames after it. The causal average counts as the frames it
        holds (its memory 1 / (1 − strength) at most), each later frame as one, weighed by its
        stillness against the present. A cut ahead ends the window there.
        """
        face = self.average == "face"
        if not future or self.strength <= 0:
            return present.smoothed - crop if face else present.smoothed
        memory = np.minimum(present.frames, 1.0 / (1.0 - self.strength))
        total = memory * present.smoothed
        weight = memory
        for look in future:
            if look.value.shape != present.value.shape:
                break
            warp = register(look.now, present.now)
            still = self.stillness(warped(look.now, warp), present.now)
            if still is None:
                break
            value = warped(look.value, warp)
            if face:
                value = value + (present.level - look.level)
            total = total + still * value
            weight = weight + still
        smoothed = (total / weight).astype(np.float32)
        return smoothed - crop if face else smoothed

    def observe(self, track: int, crop: np.ndarray, correction: np.ndarray) -> Look:
        """Take this frame of ``track`` into its causal average (``crop`` its aligned input,
        ``correction`` restored − crop); what ``settle`` needs to finish it."""
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
            frames: np.ndarray | float = 1.0
        else:
            warp = register(state.crop, now)
            before, past = warped(state.crop, warp), warped(state.average, warp)
            held = warped(state.frames, warp) if isinstance(state.frames, np.ndarray) else state.frames
            still = self.stillness(before, now)
            past = past + (level - state.level) if face else past
            if still is None:
                smoothed, frames = value, 1.0
            else:
                # a plain mean of the frames seen while the track is young (n frames held: weight
                # n / (n + 1)), an exponential average of memory 1 / (1 − strength) once it is old:
                # a fixed weight from the start would lean on the track's first frame
                w = still * np.minimum(self.strength, held / (held + 1.0))
                smoothed = w * past + (1.0 - w) * value
                frames = still * held + 1.0
        smoothed = smoothed.astype(np.float32)
        self.tracks[track] = _State(now, smoothed, level, frames)
        return Look(now, level, value.astype(np.float32), smoothed, frames)

    def forget(self, alive: set[int]) -> None:
        """Drop the state of tracks that ended."""
        for gone in [t for t in self.tracks if t not in alive]:
            del self.tracks[gone]
