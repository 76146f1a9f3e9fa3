"""Tracking and temporal smoothing on synthetic detections (no ../shared)."""

from __future__ import annotations

import numpy as np

from restore.faces.align import template
from restore.faces.detect import Detection
from restore.faces.track import FaceTracker, OneEuro, box_iou

FPS = 25.0


def face_at(x: float, y: float, size: float = 80.0, noise: np.ndarray | None = None) -> Detection:
    points = template(128) * (size / 64.0) + np.array([x, y]) - size
    if noise is not None:
        points = points + noise
    return Detection((x - size / 2, y - size / 2, size, size), points.astype(np.float32), 0.9)


def test_box_iou():
    assert box_iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert box_iou((0, 0, 10, 10), (5, 0, 10, 10)) == 50 / 150
    assert box_iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0


def test_still_face_jitter_is_smoothed_and_keeps_its_track():
    rng = np.random.default_rng(0)
    tracker = FaceTracker()
    raw, smooth, ids = [], [], set()
    for i in range(60):
        det = face_at(200, 150, noise=rng.normal(0, 1.5, (5, 2)))
        (face,) = tracker.update([det], i / FPS)
        raw.append(det.landmarks)
        smooth.append(face.landmarks)
        ids.add(face.track)
    raw_step = np.abs(np.diff(np.array(raw[10:]), axis=0)).mean()
    smooth_step = np.abs(np.diff(np.array(smooth[10:]), axis=0)).mean()
    assert ids == {0}
    assert smooth_step < 0.5 * raw_step, (smooth_step, raw_step)


def test_smoothing_zero_passes_landmarks_through():
    tracker = FaceTracker(smoothing=0.0)
    rng = np.random.default_rng(1)
    for i in range(5):
        det = face_at(200, 150, noise=rng.normal(0, 1.5, (5, 2)))
        (face,) = tracker.update([det], i / FPS)
        np.testing.assert_allclose(face.landmarks, det.landmarks, atol=1e-3)


def test_moving_face_is_followed_with_little_lag():
    tracker = FaceTracker()
    for i in range(40):
        det = face_at(100 + 4 * i, 150)             # 100 px/s, more than a face size per second
        (face,) = tracker.update([det], i / FPS)
    lag = np.abs(face.landmarks - det.landmarks).max()
    assert lag < 6.0, lag


def test_two_faces_keep_separate_tracks():
    tracker = FaceTracker()
    for i in range(10):
        faces = tracker.update([face_at(100 + i, 100), face_at(400 - i, 120)], i / FPS)
        assert [f.track for f in faces] == [0, 1]
        assert faces[0].landmarks[0, 0] < 200 < faces[1].landmarks[0, 0]


def test_missed_detection_coasts_then_ends():
    tracker = FaceTracker(max_missed=2)
    for i in range(5):
        tracker.update([face_at(200, 150)], i / FPS)
    coasted = tracker.update([], 5 / FPS)
    assert len(coasted) == 1 and coasted[0].coasting and coasted[0].track == 0
    assert len(tracker.update([], 6 / FPS)) == 1
    assert tracker.update([], 7 / FPS) == []          # gone after max_missed frames
    (face,) = tracker.update([face_at(200, 150)], 8 / FPS)
    assert face.track == 1


def test_single_frame_landmark_slip_is_held_back_but_a_real_move_is_followed():
    tracker = FaceTracker()
    for i in range(10):
        tracker.update([face_at(200, 150)], i / FPS)
    before = tracker.tracks[0].landmarks.copy()
    slip = face_at(200, 150, noise=np.array([[0, 0], [0, 0], [30, 0], [0, 0], [0, 0]], np.float64))
    (face,) = tracker.update([slip], 10 / FPS)
    np.testing.assert_allclose(face.landmarks, before)     # held
    moved = face_at(215, 150)
    tracker.update([moved], 11 / FPS)
    (face,) = tracker.update([face_at(215, 150)], 12 / FPS)
    assert np.abs(face.landmarks - moved.landmarks).max() < 1.0


def test_one_euro_holds_a_constant_signal():
    f = OneEuro()
    value = np.array([3.0, 4.0])
    for i in range(10):
        out = f(value, i / FPS, 10.0)
    np.testing.assert_allclose(out, value)
