"""Temporal consistency lowers the flicker a per-frame model adds, without ghosting moving things."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from restore.frame import Frame
from restore.metrics import StaticFlickerRatio, psnr_y
from restore.stages.base import StageContext
from restore.stages.temporal import TemporalConsistency, TemporalParams


def _scene(n=16, h=96, w=128, seed=0):
    """A textured static background with a bright square moving 3 px/frame, plus 'GAN boil':
    fresh fine noise every frame on top of the truth."""
    rng = np.random.default_rng(seed)
    base = np.clip(0.5 + 0.25 * np.sin(np.arange(w)[None, :] / 5.0) * np.cos(np.arange(h)[:, None] / 7.0), 0, 1)
    truth, boiled = [], []
    for t in range(n):
        img = np.repeat(base[..., None], 3, axis=2).astype(np.float32)
        x0 = 10 + 3 * t
        img[40:60, x0:x0 + 20] = 0.95
        truth.append(img)
        boiled.append(np.clip(img + rng.normal(0, 0.04, img.shape).astype(np.float32), 0, 1))
    return truth, boiled


def _run(frames, **params):
    stage = TemporalConsistency(TemporalParams(**params), StageContext())
    stage.setup()
    return [f.image for f in stage.run(iter(Frame(i, Fraction(i, 25), image=im) for i, im in enumerate(frames)))]


def test_flicker_index_drops_and_truth_is_approached():
    truth, boiled = _scene()
    steady = _run(boiled)
    rng = np.random.default_rng(7)
    # the "source" a restoration starts from: the truth with a little real sensor noise
    source = [np.clip(t + rng.normal(0, 0.005, t.shape).astype(np.float32), 0, 1) for t in truth]
    before, after = StaticFlickerRatio(), StaticFlickerRatio()
    for src, b, s in zip(source, boiled, steady):
        before.add(src, b)
        after.add(src, s)
    assert after.index < 0.7 * before.index
    # the steadied frames are closer to the truth than the boiling ones (after a few frames of history)
    assert np.mean([psnr_y(s, t) for s, t in zip(steady[5:], truth[5:])]) > \
        np.mean([psnr_y(b, t) for b, t in zip(boiled[5:], truth[5:])]) + 1.0


def test_moving_object_is_not_smeared():
    truth, boiled = _scene()
    steady = _run(boiled)
    for t in range(4, 16):
        x0 = 10 + 3 * t
        region = (slice(38, 62), slice(x0 - 4, x0 + 24))
        # the moving square's edges stay where the current frame has them (no trail of past positions)
        assert psnr_y(steady[t][region], truth[t][region]) >= psnr_y(boiled[t][region], truth[t][region]) - 0.5


def test_count_and_first_frame_untouched():
    truth, boiled = _scene(n=5)
    steady = _run(boiled)
    assert len(steady) == 5
    assert np.array_equal(steady[0], boiled[0])


def test_zero_strength_is_identity():
    _, boiled = _scene(n=4)
    steady = _run(boiled, strength=0.0)
    assert all(np.allclose(a, b, atol=1e-6) for a, b in zip(steady, boiled))
