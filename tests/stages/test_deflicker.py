"""Deflicker evens out exposure pumping, keeps real changes at cuts, and leaves steady clips alone."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from restore.frame import Frame
from restore.metrics import luma
from restore.stages.base import StageContext
from restore.stages.deflicker import Deflicker, DeflickerParams


def _texture(seed, h=72, w=96):
    rng = np.random.default_rng(seed)
    small = rng.random((h // 8, w // 8)).astype(np.float32)
    import cv2

    return np.repeat(cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)[..., None], 3, axis=2).clip(0.05, 0.95) * 0.8


def _run(images, **params):
    stage = Deflicker(DeflickerParams(**params), StageContext())
    return [f.image for f in stage.run(iter(Frame(i, Fraction(i, 25), image=im) for i, im in enumerate(images)))]


def test_flicker_is_reduced():
    base = _texture(1)
    gains = 1 + 0.25 * np.sin(np.arange(30) * 2.1)  # frame-to-frame exposure pumping of ±25 %
    flickering = [np.clip(base * g, 0, 1).astype(np.float32) for g in gains]
    out = _run(flickering)
    spread_before = np.std([luma(f).mean() for f in flickering])
    spread_after = np.std([luma(f).mean() for f in out])
    assert len(out) == 30
    assert spread_after < 0.3 * spread_before


def test_cut_keeps_each_shots_exposure():
    dark, bright = _texture(2) * 0.5, np.clip(_texture(3) * 1.2, 0, 1)
    images = [dark.astype(np.float32)] * 10 + [bright.astype(np.float32)] * 10
    out = _run(images, radius=6)
    assert abs(luma(out[9]).mean() - luma(dark).mean()) < 0.01
    assert abs(luma(out[10]).mean() - luma(bright).mean()) < 0.01


def test_steady_clip_is_unchanged_and_local_mode_runs():
    base = _texture(4).astype(np.float32)
    out = _run([base] * 8)
    assert all(np.allclose(o, base, atol=1e-5) for o in out)
    # every fourth frame has uneven density: darker on the left, brighter on the right
    vignette = np.linspace(0.7, 1.3, base.shape[1], dtype=np.float32)[None, :, None]
    images = [np.clip(base * (vignette if i % 4 == 1 else 1), 0, 1).astype(np.float32) for i in range(12)]
    left, right = slice(0, 24), slice(-24, None)
    uneven = abs(luma(images[5])[:, right].mean() - luma(images[4])[:, right].mean())
    out = _run(images, mode="local", grid=4)
    for side in (left, right):
        assert abs(luma(out[5])[:, side].mean() - luma(out[4])[:, side].mean()) < 0.25 * uneven
