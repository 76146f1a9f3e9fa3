"""The per-track, motion-aware running average of the restored face (no ../shared)."""

from __future__ import annotations

import cv2
import numpy as np

from restore.faces.steady import TrackSmoother, register, warped


def face_crop(seed: int = 0, size: int = 64) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    base = 0.5 + 0.2 * np.sin(x / 6) * np.cos(y / 5)
    return np.clip(np.repeat(base[..., None], 3, 2) + rng.normal(0, 0.01, (size, size, 3)), 0, 1).astype(np.float32)


def test_still_face_averages_corrections_along_the_track():
    smoother = TrackSmoother(strength=0.7)
    rng = np.random.default_rng(1)
    crop = face_crop()
    outs, raws = [], []
    for t in range(30):
        raw = (0.1 + rng.normal(0, 0.05, crop.shape)).astype(np.float32)   # a network's per-frame invention
        raws.append(raw)
        outs.append(smoother.update(0, crop + rng.normal(0, 0.01, crop.shape).astype(np.float32), raw))
    flicker_raw = np.mean([np.abs(b - a).mean() for a, b in zip(raws[10:], raws[11:])])
    flicker_out = np.mean([np.abs(b - a).mean() for a, b in zip(outs[10:], outs[11:])])
    assert flicker_out < 0.5 * flicker_raw
    np.testing.assert_allclose(outs[-1].mean(), 0.1, atol=0.01)     # the average is not biased


def test_moving_part_follows_at_once_and_a_cut_starts_again():
    smoother = TrackSmoother(strength=0.8, motion=0.03)
    crop = face_crop()
    for _ in range(6):                             # an established track
        smoother.update(0, crop, np.zeros_like(crop))
    moved = crop.copy()
    moved[40:56, 20:44] += 0.3                     # the mouth opens: only there
    out = smoother.update(0, moved, np.full_like(crop, 0.5))
    assert out[48, 32].mean() > 0.45               # the moving part takes this frame's correction
    assert out[10, 10].mean() < 0.25               # the still part keeps mostly the track's average (0)
    cut = smoother.update(0, 1.0 - crop, np.full_like(crop, -0.2))
    np.testing.assert_allclose(cut, -0.2)          # a different picture: nothing carried over


def test_tracks_are_independent_and_forgotten_when_they_end():
    smoother = TrackSmoother(strength=0.9)
    crop = face_crop()
    smoother.update(0, crop, np.full_like(crop, 0.3))
    first_of_other = smoother.update(1, crop, np.full_like(crop, -0.3))
    np.testing.assert_allclose(first_of_other, -0.3)
    smoother.forget({1})
    assert set(smoother.tracks) == {1}
    np.testing.assert_allclose(smoother.update(0, crop, np.zeros_like(crop)), 0.0)


def test_strength_zero_is_per_frame():
    smoother = TrackSmoother(strength=0.0)
    crop = face_crop()
    smoother.update(0, crop, np.full_like(crop, 0.3))
    np.testing.assert_allclose(smoother.update(0, crop, np.zeros_like(crop)), 0.0)


def test_averaging_the_restored_face_also_steadies_the_frames_own_noise():
    rng = np.random.default_rng(2)
    base = face_crop()
    outputs = {"correction": [], "face": []}
    for average, results in outputs.items():
        smoother = TrackSmoother(strength=0.7, average=average)
        noise = np.random.default_rng(3)
        for t in range(30):
            crop = base + noise.normal(0, 0.01, base.shape).astype(np.float32)
            # a network that keeps the face as it came, plus detail it invents anew each frame
            correction = rng.normal(0, 0.01, base.shape).astype(np.float32)
            results.append(crop + smoother.update(0, crop, correction))
    flicker = {k: np.mean([np.abs(b - a).mean() for a, b in zip(v[10:], v[11:])]) for k, v in outputs.items()}
    # the correction's average steadies only the invention; the frame's own noise comes back each frame
    assert flicker["face"] < 0.6 * flicker["correction"]
    np.testing.assert_allclose(outputs["face"][-1].mean(), base.mean(), atol=0.005)    # not biased


def test_averaged_face_follows_a_change_of_exposure_at_once():
    smoother = TrackSmoother(strength=0.9, average="face")
    crop = face_crop()
    for _ in range(10):
        smoother.update(0, crop, np.zeros_like(crop))
    brighter = crop + 0.1                         # film flicker: the whole face 0.1 brighter
    out = brighter + smoother.update(0, brighter, np.zeros_like(crop))
    np.testing.assert_allclose(out.mean(), brighter.mean(), atol=0.005)
    cut = smoother.update(0, 1.0 - crop, np.full_like(crop, -0.2))
    np.testing.assert_allclose(cut, -0.2, atol=1e-6)   # a different picture: this frame's correction alone


def test_a_young_track_is_a_plain_mean_of_its_frames():
    smoother = TrackSmoother(strength=0.9)
    crop = face_crop()
    values = [0.3, -0.3, 0.6]
    out = [smoother.update(0, crop, np.full_like(crop, v)) for v in values]
    # equal weights for the frames seen so far, not 0.9 on the first one
    np.testing.assert_allclose(out[1], np.mean(values[:2]), atol=1e-6)
    np.testing.assert_allclose(out[2], np.mean(values), atol=1e-6)
    for _ in range(40):
        last = smoother.update(0, crop, np.full_like(crop, 1.0))
    np.testing.assert_allclose(last, 1.0, atol=0.02)      # an old track: an exponential average
    smoother.update(0, crop, np.zeros_like(crop))
    np.testing.assert_allclose(smoother.update(0, crop, np.zeros_like(crop)), 0.9 ** 2, atol=0.02)


def textured(size: int = 128, seed: int = 5, blur: float = 3.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur(rng.random((size, size)).astype(np.float32), (0, 0), blur)


def test_register_finds_the_wobble_between_two_crops_and_refuses_what_is_not_one():
    a = textured()
    wobble = np.float32([[1.01, 0.01, 0.8], [-0.01, 0.995, -0.6]])     # a landmark slip: shift, turn, scale
    b = cv2.warpAffine(a, wobble, a.shape[::-1], flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    warp = register(a, b)
    assert warp is not None
    np.testing.assert_allclose(warp[:, :2], wobble[:, :2], atol=0.005)
    np.testing.assert_allclose(warp[:, 2], wobble[:, 2], atol=0.05)           # px
    inner = (slice(8, -8), slice(8, -8))
    assert np.abs(warped(a, warp) - b)[inner].mean() < 0.05 * np.abs(a - b)[inner].mean()
    assert register(np.zeros_like(a), np.zeros_like(a)) is None                         # nothing to match
    far = cv2.warpAffine(a, np.float32([[1, 0, 20], [0, 1, 0]]), a.shape[::-1], borderMode=cv2.BORDER_REFLECT)
    assert register(a, far) is None                                                     # not a wobble
    mouth = a.copy()
    mouth[80:100, 40:90] += 0.3                                 # only a part moved: the rest stays put
    assert register(a, mouth) is None


def test_a_still_face_whose_landmarks_wobble_is_averaged_without_blurring():
    """Sub-pixel wobble and fresh noise each frame: registered, the average comes closer to the clean face."""
    rng = np.random.default_rng(7)
    skin = textured(size=96, blur=1.5)
    clean = np.repeat(((skin - skin.mean()) / skin.std() * 0.1 + 0.5)[..., None], 3, axis=2)
    errors: dict[str, float] = {}
    for name, strength in (("per-frame", 0.0), ("averaged", 0.7)):
        smoother, err = TrackSmoother(strength=strength, motion=0.03), []
        noise = np.random.default_rng(8)
        for t in range(12):
            m = np.float32([[1, 0, rng.uniform(-1, 1)], [0, 1, rng.uniform(-1, 1)]])
            truth = cv2.warpAffine(clean, m, (96, 96), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
            crop = truth + noise.normal(0, 0.02, truth.shape).astype(np.float32)
            out = crop + smoother.update(0, crop, np.zeros_like(crop))     # a network that changes nothing
            if t >= 4:
                err.append(float(np.abs(out - truth)[8:-8, 8:-8].mean()))
        errors[name] = float(np.mean(err))
    # registered: 0.43 of the per-frame error; averaged where the crops lie, 0.91 (the wobble blurs it)
    assert errors["averaged"] < 0.6 * errors["per-frame"]


def test_lookahead_centres_the_average_on_a_tracks_first_frame():
    """The frames after the present one are averaged in: a track's first frame is no longer its own alone."""
    smoother = TrackSmoother(strength=0.7)
    crop = face_crop()
    values = [0.3, -0.3, 0.6]
    looks = [smoother.observe(0, crop, np.full_like(crop, v)) for v in values]
    causal = smoother.settle(looks[0], [], crop)
    np.testing.assert_allclose(causal, 0.3, atol=1e-6)                   # the past only: its own value
    np.testing.assert_allclose(smoother.settle(looks[0], looks[1:], crop), np.mean(values), atol=1e-5)
    # the middle frame: its causal average holds two frames, the one after counts as one more
    np.testing.assert_allclose(smoother.settle(looks[1], looks[2:], crop), np.mean(values), atol=1e-5)


def test_a_cut_ahead_ends_the_window_and_a_part_moving_ahead_is_not_averaged_there():
    smoother = TrackSmoother(strength=0.7, motion=0.03)
    crop = face_crop()
    present = smoother.observe(0, crop, np.zeros_like(crop))
    cut = TrackSmoother(strength=0.7).observe(0, 1.0 - crop, np.full_like(crop, 0.5))
    np.testing.assert_allclose(smoother.settle(present, [cut], crop), 0.0, atol=1e-6)
    moved = crop.copy()
    moved[40:56, 20:44] += 0.3                     # the mouth opens in the next frame, only there
    ahead = TrackSmoother(strength=0.7, motion=0.03)
    ahead.observe(0, crop, np.zeros_like(crop))
    later = ahead.observe(0, moved, np.full_like(crop, 0.5) - (moved - crop))   # restored = crop + 0.5
    out = smoother.settle(present, [later], crop)
    assert abs(out[48, 32].mean()) < 0.05          # the mouth keeps the present frame's face
    np.testing.assert_allclose(out[8, 8], 0.25, atol=0.02)       # the still rest: the mean of both frames
