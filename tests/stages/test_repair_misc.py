"""Levels/white balance, border crop and stabilisation on synthetic clips with known answers."""

from __future__ import annotations

from fractions import Fraction

import cv2
import numpy as np

from restore.frame import Frame, VideoFormat
from restore.metrics import luma
from restore.stages.base import StageContext
from restore.stages.crop import Crop, CropParams, detect_borders
from restore.stages.levels import Levels, LevelsParams
from restore.stages.stabilise import Stabilise, StabiliseParams


def _scene(h=120, w=160, seed=3):
    rng = np.random.default_rng(seed)
    small = rng.random((h // 10, w // 10, 3)).astype(np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC).clip(0, 1)


def _frames(images):
    return iter(Frame(i, Fraction(i, 25), image=im.astype(np.float32)) for i, im in enumerate(images))


def test_levels_stretches_faded_range_and_removes_cast():
    clean = _scene()
    clean[10:40, 10:60] = 0.7  # a neutral grey card
    faded = 0.25 + 0.5 * clean * np.array([1.0, 0.95, 0.8], np.float32)  # lifted blacks, yellow cast
    out = list(Levels(LevelsParams(smoothing=0.0, max_stretch=4.0), StageContext()).run(_frames([faded] * 3)))[-1].image
    y = luma(out)
    assert np.percentile(y, 0.5) < 0.08 and np.percentile(y, 99.5) > 0.92  # was about 0.28 … 0.7
    card = out[12:38, 12:58].reshape(-1, 3).mean(0)
    assert np.ptp(card) < 0.03  # the grey card is grey again
    assert np.ptp(faded[12:38, 12:58].reshape(-1, 3).mean(0)) > 0.05


def test_crop_detects_letterbox_and_changes_format():
    img = _scene(120, 160) * 0.8 + 0.15
    boxed = np.zeros_like(img)
    boxed[16:104, 6:154] = img[16:104, 6:154]
    assert detect_borders([boxed], 0.06, 0.25) == (6, 16, 148, 88)
    stage = Crop(CropParams(), StageContext(preview=[boxed]))
    fmt = stage.output_format(VideoFormat(160, 120, Fraction(25)))
    assert (fmt.width, fmt.height) == (148, 88)
    out = list(stage.run(_frames([boxed] * 2)))
    assert out[0].image.shape == (88, 148, 3) and luma(out[0].image).min() > 0.1


def test_stabilise_removes_shake_but_keeps_a_pan():
    big = _scene(200, 260, seed=5)
    rng = np.random.default_rng(0)
    shake = rng.normal(0, 3, size=(30, 2))
    images = []
    for t in range(30):
        x0 = 40 + int(round(1.0 * t + shake[t, 0]))     # a steady pan of 1 px/frame plus shake
        y0 = 40 + int(round(shake[t, 1]))
        images.append(big[y0:y0 + 120, x0:x0 + 160])
    out = [f.image for f in Stabilise(StabiliseParams(radius=8, zoom=1.0), StageContext()).run(_frames(images))]
    assert len(out) == 30

    from restore.stages.stabilise import frame_motion

    moves_in = np.array([frame_motion(a, b)[:2] for a, b in zip(images, images[1:])])
    moves_out = np.array([frame_motion(a, b)[:2] for a, b in zip(out, out[1:])])
    assert moves_out.std(axis=0).max() < 0.2 * moves_in.std(axis=0).min()   # the shake is gone
    assert abs(moves_out[:, 0].mean() - (-1.0)) < 0.2                         # the 1 px/frame pan is kept
    assert abs(moves_out[:, 1].mean()) < 0.2
