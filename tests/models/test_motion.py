"""Whole-pixel registration of neighbouring frames (restore.models.motion)."""

from __future__ import annotations

import numpy as np
import torch

from restore.models.motion import align_window, block_motion, luma_tensor, shift_pixels

H, W = 128, 160


def _texture(seed: int = 3, h: int = H + 40, w: int = W + 40) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    coarse = rng.random((h // 4 + 1, w // 4 + 1)).astype(np.float32)
    image = np.kron(coarse, np.ones((4, 4), np.float32))[:h, :w]
    image = 0.5 * image + 0.5 * rng.random((h, w)).astype(np.float32)
    rgb = np.stack([image, 0.8 * image + 0.1, 0.6 * image + 0.2])
    return torch.from_numpy(rgb)


def _view(canvas: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    return canvas[:, 20 + dy:20 + dy + H, 20 + dx:20 + dx + W]


def test_known_shift_is_found_and_undone_exactly():
    canvas = _texture()
    reference, moved = _view(canvas, 0, 0), _view(canvas, 3, -5)   # moved[y, x] = reference[y + 3, x - 5]
    shift, conf = block_motion(luma_tensor(reference[None]), luma_tensor(moved[None]), 64, 64)
    assert torch.all(shift[0, 0] == -3) and torch.all(shift[0, 1] == 5)
    assert float(conf.min()) > 0.3
    aligned = align_window(torch.stack([moved, reference, moved])[None])
    interior = (slice(None), slice(8, -8), slice(8, -8))
    assert torch.equal(aligned[0, 0][interior], reference[interior])   # copied samples, no interpolation
    assert torch.equal(aligned[0, 1], reference)                        # the centre is untouched


def test_two_motions_in_one_frame_are_followed_block_by_block():
    canvas = _texture(seed=5, w=2 * W + 40)
    wide_ref = canvas[:, 20:20 + H, 20:20 + 2 * W]
    left_static = canvas[:, 20:20 + H, 20:20 + W]
    right_moved = canvas[:, 20 + 2:20 + 2 + H, 20 + W + 4:20 + 2 * W + 4]
    neighbour = torch.cat([left_static, right_moved], dim=2)
    aligned = align_window(torch.stack([neighbour, wide_ref, neighbour])[None], block=32)
    err = (aligned[0, 0] - wide_ref).abs().mean(0)
    assert float(err[16:-16, 16:W - 48].mean()) < 1e-6                 # static half stays
    assert float(err[16:-16, W + 48:-16].mean()) < 1e-6                # moving half registered
    assert float((neighbour - wide_ref).abs().mean()) > 0.05            # and they did differ


def test_flat_frames_stay_put_and_noise_does_not_move_them():
    flat = torch.full((3, H, W), 0.4)
    noisy = flat + 0.02 * torch.randn(3, H, W, generator=torch.Generator().manual_seed(0))
    aligned = align_window(torch.stack([noisy, flat, noisy])[None])
    assert torch.equal(aligned[0, 0], noisy)


def test_batch_members_are_registered_independently():
    canvas = _texture(seed=9)
    a = torch.stack([_view(canvas, 1, 2), _view(canvas, 0, 0), _view(canvas, -2, 1)])
    b = torch.stack([_view(canvas, -4, 0), _view(canvas, 0, 0), _view(canvas, 0, 3)])
    together = align_window(torch.stack([a, b]))
    assert torch.equal(together[0], align_window(a[None])[0])
    assert torch.equal(together[1], align_window(b[None])[0])


def test_shift_pixels_clamps_at_the_border():
    frame = torch.arange(12, dtype=torch.float32).view(1, 1, 3, 4)
    field = torch.zeros(1, 2, 3, 4)
    field[:, 1] = 2
    out = shift_pixels(frame, field)
    assert out[0, 0, 0].tolist() == [2, 3, 3, 3]


def test_whole_frame_shortcut_equals_the_gather():
    from restore.models.motion import _shift_whole

    frame = torch.rand(1, 3, 20, 24)
    for dy, dx in ((0, 0), (3, -5), (-7, 9), (25, -30)):
        field = torch.zeros(1, 2, 20, 24)
        field[:, 0], field[:, 1] = dy, dx
        assert torch.equal(_shift_whole(frame, dy, dx), shift_pixels(frame, field)), (dy, dx)
