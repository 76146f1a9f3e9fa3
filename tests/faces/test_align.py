"""Alignment and paste-back geometry on synthetic images with known landmarks (no ../shared)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from restore.faces.align import align_face, estimate_affine, feather_mask, paste_back, template

SIZE = 128


def crop_to_frame(angle_deg: float, scale: float, tx: float, ty: float) -> np.ndarray:
    """A known similarity transform from crop coordinates to frame coordinates (2×3)."""
    a = np.deg2rad(angle_deg)
    return np.array([[scale * np.cos(a), -scale * np.sin(a), tx],
                     [scale * np.sin(a), scale * np.cos(a), ty]])


def apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ matrix[:, :2].T + matrix[:, 2]


def blob_centre(image: np.ndarray) -> np.ndarray:
    weights = image.sum(axis=2) if image.ndim == 3 else image
    ys, xs = np.mgrid[0:weights.shape[0], 0:weights.shape[1]]
    total = weights.sum()
    return np.array([(xs * weights).sum() / total, (ys * weights).sum() / total])


@pytest.mark.parametrize("angle,scale,tx,ty", [(0, 1.0, 50, 40), (17, 1.9, 300, 80), (-30, 0.6, 120, 200)])
def test_affine_fit_recovers_the_transform(angle, scale, tx, ty):
    forward = crop_to_frame(angle, scale, tx, ty)
    landmarks = apply(forward, template(SIZE))
    affine = estimate_affine(landmarks, SIZE)
    np.testing.assert_allclose(apply(affine, landmarks), template(SIZE), atol=1e-3)


def test_aligned_crop_puts_marked_landmarks_on_the_template():
    forward = crop_to_frame(12, 1.6, 220, 60)
    landmarks = apply(forward, template(SIZE))
    frame = np.zeros((480, 640, 3), np.float32)
    for x, y in landmarks:
        cv2.circle(frame, (int(round(x)), int(round(y))), 3, (1.0, 1.0, 1.0), -1, lineType=cv2.LINE_AA)
    crop = align_face(frame, landmarks, SIZE).crop
    for point in template(SIZE):
        x, y = point
        window = crop[int(y) - 5:int(y) + 6, int(x) - 5:int(x) + 6]
        found = blob_centre(window) + np.array([int(x) - 5, int(y) - 5])
        assert np.linalg.norm(found - point) < 0.75, (found, point)


def test_pasted_crop_lands_at_the_face_position():
    forward = crop_to_frame(-20, 2.3, 260, 90)
    landmarks = apply(forward, template(SIZE))
    frame = np.zeros((576, 720, 3), np.float32)
    aligned = align_face(frame, landmarks, SIZE)
    # a bright disc on the crop's nose tip must appear on the frame's nose tip
    face = np.zeros((SIZE, SIZE, 3), np.float32)
    nose = template(SIZE)[2]
    cv2.circle(face, (int(round(nose[0])), int(round(nose[1]))), 6, (1.0, 1.0, 1.0), -1)
    out = paste_back(frame, face, aligned.inverse)
    centre = blob_centre(out)
    assert np.linalg.norm(centre - landmarks[2]) < 1.5, (centre, landmarks[2])
    # nothing outside the face's square (mapped back) is touched
    corners = apply(forward, np.array([[0, 0], [SIZE, 0], [0, SIZE], [SIZE, SIZE]], np.float64))
    x0, y0 = np.floor(corners.min(axis=0)).astype(int) - 2
    x1, y1 = np.ceil(corners.max(axis=0)).astype(int) + 2
    outside = out.copy()
    outside[max(0, y0):y1, max(0, x0):x1] = 0
    assert float(outside.max()) == 0.0


def test_round_trip_reproduces_the_face_under_the_mask():
    rng = np.random.default_rng(3)
    frame = cv2.GaussianBlur(rng.random((400, 500, 3)).astype(np.float32), (0, 0), 3)
    forward = crop_to_frame(8, 1.2, 170, 100)
    landmarks = apply(forward, template(SIZE))
    aligned = align_face(frame, landmarks, SIZE)
    out = paste_back(frame, aligned.crop, aligned.inverse)
    # pasting the unchanged aligned crop back is (to interpolation error) the identity
    assert float(np.abs(out - frame).max()) < 0.03
    zero = paste_back(frame, np.zeros_like(aligned.crop), aligned.inverse, additive=True)
    np.testing.assert_array_equal(zero, frame)


def test_feather_mask_is_one_inside_and_zero_at_the_edge():
    mask = feather_mask(SIZE)
    assert mask[SIZE // 2, SIZE // 2] == pytest.approx(1.0, abs=1e-3)
    assert mask[0, :].max() < 0.05 and mask[:, -1].max() < 0.05
    assert 0.2 < mask[SIZE // 2, int(SIZE * 0.1)] < 0.8      # a soft edge, not a step


def test_paste_back_clips_at_frame_borders():
    forward = crop_to_frame(0, 1.0, -40, -30)   # face partly outside the frame
    frame = np.zeros((100, 100, 3), np.float32)
    aligned = align_face(frame, apply(forward, template(SIZE)), SIZE)
    out = paste_back(frame, np.ones((SIZE, SIZE, 3), np.float32), aligned.inverse)
    assert out.shape == frame.shape and out[50, 50].min() > 0.99


def test_additive_paste_keeps_the_correction_fine_detail():
    """A correction is mostly fine detail: pasted back through a half-pixel shift it must keep it
    (a bilinear warp averages neighbours there and loses a sixth of it)."""
    rng = np.random.default_rng(5)
    detail = cv2.GaussianBlur(rng.normal(0, 1, (SIZE, SIZE)).astype(np.float32), (0, 0), 0.8)
    correction = np.repeat(detail[:, :, None], 3, axis=2) * 0.05
    frame = np.zeros((200, 200, 3), np.float32)
    inverse = crop_to_frame(0, 1.0, 30.5, 40.5)                  # crop → frame: a half-pixel shift
    mask = np.ones((SIZE, SIZE), np.float32)
    out = paste_back(frame, correction, inverse, mask, additive=True)
    pasted = out[50:140, 50:140, 0]
    # the same detail sampled at the half-pixel positions by a band-limited (Fourier) shift
    spectrum = np.fft.fft2(correction[:, :, 0])
    fy, fx = np.meshgrid(np.fft.fftfreq(SIZE), np.fft.fftfreq(SIZE), indexing="ij")
    shifted = np.real(np.fft.ifft2(spectrum * np.exp(-2j * np.pi * (fx * 0.5 + fy * 0.5))))
    truth = shifted[50 - 40:140 - 40, 50 - 30:140 - 30]
    kept = float(np.std(pasted) / np.std(truth))
    error = float(np.sqrt(np.mean((pasted - truth) ** 2)) / np.std(truth))
    assert kept > 0.9, kept               # bilinear: 0.83; bicubic: 1.00
    assert error < 0.18, error            # bilinear: 0.25; bicubic: 0.11
