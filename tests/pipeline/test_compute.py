"""Tiling with overlap gives the same picture as a whole-frame pass; OOM halves the tile."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from restore.pipeline.compute import run_model, tiled


def _model():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, 12, 3, padding=1)
    return lambda x: F.pixel_shuffle(conv(x), 2)


def test_tiles_match_whole_frame_away_from_receptive_edges():
    fn = _model()
    x = torch.rand(2, 3, 50, 70)
    with torch.no_grad():
        whole = fn(x)
        pieces = tiled(fn, x, 2, tile=24, overlap=8)
    assert pieces.shape == whole.shape
    # a 3×3 conv has a 1-pixel receptive border: feathered overlaps hide it completely
    assert torch.allclose(pieces, whole, atol=1e-5)


def test_out_of_memory_retries_with_smaller_tiles():
    fn = _model()
    calls = []

    def picky(x):
        calls.append(x.shape[-1])
        if x.shape[-1] > 32:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2 GiB")
        return fn(x)

    retried = []
    with torch.no_grad():
        out = run_model(picky, torch.rand(1, 3, 64, 64), 2, tile=0, overlap=4, min_tile=16, on_retry=retried.append)
    assert out.shape == (1, 3, 128, 128)
    assert retried == [32]
