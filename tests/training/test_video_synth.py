"""Synthetic broadcast video made on the training device (restore.training.video_synth)."""

from __future__ import annotations

import cv2
import numpy as np
import torch
from torch.nn import functional as F

from restore.training.video_synth import (BroadcastRanges, CameraRanges, degrade_clips, jpeg_like,
                                          render_clips)


def _sources(n: int = 3, size: int = 160) -> torch.Tensor:
    rng = np.random.default_rng(0)
    coarse = rng.random((n, 3, size // 8, size // 8)).astype(np.float32)
    return F.interpolate(torch.from_numpy(coarse), size=(size, size), mode="bicubic").clamp(0, 1)


def test_clips_are_a_function_of_the_seed():
    src = _sources()
    a = render_clips(src, 32, 5, torch.Generator().manual_seed(4))
    b = render_clips(src, 32, 5, torch.Generator().manual_seed(4))
    c = render_clips(src, 32, 5, torch.Generator().manual_seed(5))
    assert a.shape == (3, 5, 3, 32, 32)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_a_camera_that_does_not_move_films_the_same_frame():
    still = CameraRanges(static_prob=1.0, shake_prob=0.0, zoom_prob=0.0, roll_prob=0.0, object_prob=0.0,
                         cut_prob=0.0, flicker_prob=0.0)
    clips = render_clips(_sources(), 32, 5, torch.Generator().manual_seed(1), still)
    assert torch.allclose(clips[:, 0], clips[:, 2], atol=1e-6) and torch.allclose(clips[:, 4], clips[:, 2], atol=1e-6)
    moving = CameraRanges(static_prob=0.0, pan_max=6.0, object_prob=0.0, cut_prob=0.0, flicker_prob=0.0)
    panned = render_clips(_sources(), 32, 5, torch.Generator().manual_seed(1), moving)
    assert float((panned[:, 0] - panned[:, 2]).abs().mean()) > 1e-3


def test_degradation_is_8_bit_and_clean_clips_are_plain_downscales():
    hr = render_clips(_sources(), 32, 3, torch.Generator().manual_seed(2))
    lr = degrade_clips(hr, 2, torch.Generator().manual_seed(3))
    assert lr.shape == (3, 3, 3, 16, 16)
    assert torch.equal(torch.round(lr * 255) / 255, lr)
    clean = degrade_clips(hr, 2, torch.Generator().manual_seed(3), BroadcastRanges(clean_prob=1.0))
    frames = hr.reshape(-1, 3, 32, 32)
    candidates = [F.avg_pool2d(frames, 2),
                  F.interpolate(frames, size=(16, 16), mode="bicubic", antialias=True, align_corners=False),
                  F.interpolate(frames, size=(16, 16), mode="bilinear", antialias=True, align_corners=False)]
    flat = clean.reshape(-1, 3, 16, 16)
    for i in range(flat.shape[0]):
        assert min(float((flat[i] - (c[i].clamp(0, 1) * 255).round() / 255).abs().max()) for c in candidates) < 1e-6
    assert float((lr - clean).abs().mean()) > 0.005          # the broadcast chain does change the pictures


def test_block_dct_codec_loses_what_jpeg_loses():
    image = _sources(1, 64)[0]
    u8 = (image.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    for quality in (30, 75, 95):
        ours = jpeg_like(image[None], torch.tensor([float(quality)]))[0]
        ok, data = cv2.imencode(".jpg", u8[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
        theirs = torch.from_numpy(cv2.imdecode(data, 1)[:, :, ::-1].copy()).permute(2, 0, 1).float() / 255
        e_ours, e_theirs = float((ours - image).abs().mean()), float((theirs - image).abs().mean())
        assert abs(e_ours - e_theirs) < 0.25 * e_theirs + 1e-3, (quality, e_ours, e_theirs)
