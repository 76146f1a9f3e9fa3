"""Faces followed across frames, with their landmarks smoothed over time.

Per-frame detection makes the five landmarks jitter by a pixel or two, and the
aligned crop — hence the restored face pasted back — shakes and flickers with them:
the known failure of GFPGAN/CodeFormer on video (facexlib #48, GFPGAN #465,
CodeFormer #163). Here each face is a track: detections are matched to tracks by box
overlap, landmarks go through a One-Euro filter (Casiez et al., CHI 2012: heavy
smoothing when still, little lag when moving), a landmark set that jumps away from
where its track was heading (constant-velocity prediction: a head turning or walking
is not an outlier) for a single frame is held back as an outlier, and a face the
detector misses for a frame or two is carried along its track's motion instead of
blinking out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from restore.faces.detect import Detection


def box_iou(a, b) -> float:
    ax0, ay0, aw, ah = a
    bx0, by0, bw, bh = b
    ix = max(0.0, min(ax0 + aw, bx0 + bw) - max(ax0, bx0))
    iy = max(0.0, min(ay0 + ah, by0 + bh) - max(ay0, by0))
    inter = ix * iy
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


class OneEuro:
    """One-Euro filter over an array; speed is measured in face sizes per second so one
    setting suits small and large faces alike."""

    def __init__(self, min_cutoff: float = 1.5, beta: float = 5.0, d_cutoff: float = 1.0):
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self.value: np.ndarray | None = None
        self.speed: np.ndarray | None = None
        self.time: float | None = None

    @staticmethod
    def _alpha(cutoff: float, dt: float) -> float:
        tau = 1.0 / (2 * math.pi * cutoff)
        return 1.0 / (1.0 + tau / dt)

    def reset(self, value: np.ndarray, time: float) -> np.ndarray:
        self.value, self.speed, self.time = value.astype(np.float64), np.zeros_like(value, np.float64), time
        return self.value.copy()

    def __call__(self, value: np.ndarray, time: float, scale: float) -> np.ndarray:
        if self.value is None or self.time is None or time <= self.time:
            return self.reset(value, time)
        dt = time - self.time
        raw_speed = (value - self.value) / dt / max(scale, 1e-6)
        self.speed = self.speed + self._alpha(self.d_cutoff, dt) * (raw_speed - self.speed)
        cutoff = self.min_cutoff + self.beta * np.abs(self.speed)
        alpha = 1.0 / (1.0 + (1.0 / (2 * math.pi * cutoff)) / dt)
        self.value = self.value + alpha * (value - self.value)
        self.time = time
        return self.value.copy()


@dataclass
class Track:
    id: int
    detection: Detection
    landmarks: np.ndarray              # smoothed, frame pixels
    filter: OneEuro
    missed: int = 0                    # consecutive frames without a detection
    suspect: int = 0                   # consecutive frames whose landmarks jumped
    hits: int = 1
    coasting: bool = False             # this frame's landmarks are carried over, not detected
    velocity: np.ndarray | None = None  # px/s of the smoothed landmarks (None until two frames)
    time: float | None = None          # of the last landmarks

    def predicted(self, time: float) -> np.ndarray:
        """Where the landmarks should be at ``time`` if the face keeps its motion."""
        if self.velocity is None or self.time is None or time <= self.time:
            return self.landmarks
        return self.landmarks + self.velocity * (time - self.time)

    def moved_to(self, landmarks: np.ndarray, time: float) -> None:
        if self.time is not None and time > self.time:
            velocity = (landmarks - self.landmarks) / (time - self.time)
            # lightly smoothed: one noisy detection must not throw the prediction far
            self.velocity = velocity if self.velocity is None else 0.5 * (self.velocity + velocity)
        self.landmarks, self.time = landmarks, time


@dataclass
class TrackedFace:
    track: int
    detection: Detection               # this frame's detection (the last one when coasting)
    landmarks: np.ndarray              # smoothed landmarks to align with
    coasting: bool


@dataclass
class FaceTracker:
    """Matches detections to tracks frame by frame (frames must arrive in order).

    ``smoothing`` scales the One-Euro minimum cut-off: 0 turns smoothing off (and the
    outlier hold: raw landmarks every frame), 1 is the default (1.5 Hz when still), 2
    smooths twice as hard.
    """

    smoothing: float = 1.0
    iou_threshold: float = 0.3
    max_missed: int = 2
    jump_tolerance: float = 0.25       # landmark jump, in eye distances, treated as an outlier
    tracks: list[Track] = field(default_factory=list)
    _next_id: int = 0

    def _new_filter(self) -> OneEuro:
        return OneEuro(min_cutoff=1.5 / self.smoothing if self.smoothing > 0 else 1e9)

    def update(self, detections: list[Detection], time: float) -> list[TrackedFace]:
        pairs = sorted(((box_iou(t.detection.box, d.box), ti, di)
                        for ti, t in enumerate(self.tracks) for di, d in enumerate(detections)), reverse=True)
        used_tracks, used_dets, out = set(), set(), []
        for iou, ti, di in pairs:
            if iou < self.iou_threshold or ti in used_tracks or di in used_dets:
                continue
            used_tracks.add(ti)
            used_dets.add(di)
            out.append(self._follow(self.tracks[ti], detections[di], time))
        survivors = []
        for ti, track in enumerate(self.tracks):
            if ti in used_tracks:
                survivors.append(track)
            elif track.missed < self.max_missed:
                track.missed += 1
                track.coasting = True
                survivors.append(track)
                out.append(TrackedFace(track.id, track.detection, track.predicted(time), True))
        for di, det in enumerate(detections):
            if di not in used_dets:
                track = Track(self._next_id, det, det.landmarks.astype(np.float64), self._new_filter(), time=time)
                track.filter.reset(det.landmarks, time)
                self._next_id += 1
                survivors.append(track)
                out.append(TrackedFace(track.id, det, track.landmarks.copy(), False))
        self.tracks = survivors
        out.sort(key=lambda f: f.track)
        return out

    def _follow(self, track: Track, det: Detection, time: float) -> TrackedFace:
        expected = track.predicted(time)
        eye = float(np.linalg.norm(expected[1] - expected[0])) or 1.0
        # an outlier is far from where the face was *and* from where it was heading: a head
        # that keeps moving, stops or turns back is followed, a detector slip is not
        jump = min(float(np.max(np.linalg.norm(det.landmarks - ref, axis=1)))
                   for ref in (expected, track.landmarks)) / eye
        track.missed, track.coasting, track.hits = 0, False, track.hits + 1
        if self.smoothing > 0 and jump > self.jump_tolerance and track.suspect == 0 and track.hits > 2:
            # One odd frame is a detector slip (blur, a hand, a dust spot): keep to the track's
            # course. If the next frame agrees with the jump, the face really moved: follow it.
            track.suspect = 1
            track.detection = det
            return TrackedFace(track.id, det, expected.copy(), True)
        if track.suspect:
            track.suspect = 0
            track.velocity = None
            track.moved_to(track.filter.reset(det.landmarks, time), time)
        else:
            track.moved_to(track.filter(det.landmarks.astype(np.float64), time, det.size), time)
        track.detection = det
        return TrackedFace(track.id, det, track.landmarks.copy(), False)

    def reset(self) -> None:
        self.tracks = []
