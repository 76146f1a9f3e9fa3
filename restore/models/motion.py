"""Registering neighbouring frames onto the frame being restored, without resampling them.

A multi-frame super-resolution model recovers detail that one frame lost by reading it from
its neighbours, where the camera sampled the same scene at other sub-pixel positions. That
information lives in the neighbours' *original samples*: interpolating a neighbour onto the
centre frame's grid (as a sub-pixel flow warp does) low-passes exactly the aliased detail the
model is after. So neighbours are moved here by **whole pixels only** — each output pixel is
a copy of one source pixel — and the sub-pixel remainder, together with local motion, is left
to the network, which sees both frames and learns to use or ignore a neighbour.

Motion is measured by phase correlation on overlapping blocks of luma (robust to noise and
brightness change, one FFT per block), cleaned with the median of its neighbourhood, and
spread over the frame bilinearly before rounding: a pan, a slow zoom or a shaking camera
are followed piece by piece. Where a block finds no clear peak (flat wall, sky), its motion
is taken from the blocks around it, and without any reliable block a neighbour stays put.

Pure torch, batched, deterministic; the same code runs in training (on GPU batches of
patches) and in the stage (on CPU, whole frames), so the model is trained on the
registration it will get.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

LUMA = (0.299, 0.587, 0.114)


def luma_tensor(frames: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) RGB tensors → (..., 1, H, W) full-range BT.601 luma: ``restore.metrics.luma`` for torch,
    on the device (only used to measure motion)."""
    r, g, b = frames.unbind(dim=-3)
    return (LUMA[0] * r + LUMA[1] * g + LUMA[2] * b).unsqueeze(-3)


def block_size_for(height: int, width: int, preferred: int = 64) -> int:
    """The block side used for a frame: ``preferred``, or the largest power of two that fits."""
    side = min(preferred, height, width)
    return max(8, 1 << int(math.floor(math.log2(max(side, 8)))))


def _hann(size: int, device, dtype) -> torch.Tensor:
    w = torch.hann_window(size, periodic=False, device=device, dtype=dtype)
    return w[:, None] * w[None, :]


def _grid_padding(h: int, w: int, block: int, stride: int) -> tuple[int, int]:
    return (-(h - block)) % stride, (-(w - block)) % stride


def block_spectra(lumas: torch.Tensor, block: int, stride: int) -> tuple[torch.Tensor, int, int]:
    """The Hann-windowed, DC-free blocks of (N, 1, H, W) luma, Fourier-transformed:
    (N·by·bx, block, block//2+1), and the block grid (by, bx). Computed once per frame of a
    window, whichever neighbour it is compared with."""
    n, _, h, w = lumas.shape
    pad_h, pad_w = _grid_padding(h, w, block, stride)
    if pad_h or pad_w:
        lumas = F.pad(lumas, (0, pad_w, 0, pad_h), mode="replicate")
    by = (lumas.shape[-2] - block) // stride + 1
    bx = (lumas.shape[-1] - block) // stride + 1
    patches = F.unfold(lumas.float(), block, stride=stride)                 # N, block², L
    patches = patches.transpose(1, 2).reshape(n * by * bx, block, block)
    patches = patches - patches.mean(dim=(-2, -1), keepdim=True)            # DC carries no motion
    return torch.fft.rfft2(patches * _hann(block, lumas.device, torch.float32)), by, bx


def motion_from_spectra(fa: torch.Tensor, fb: torch.Tensor, n: int, by: int, bx: int, block: int,
                        min_confidence: float = 0.08) -> tuple[torch.Tensor, torch.Tensor]:
    """Phase correlation of reference spectra ``fa`` and moving spectra ``fb`` (block_spectra)."""
    cross = fb * fa.conj()
    cross = cross / (cross.abs() + 1e-9)
    surface = torch.fft.irfft2(cross, s=(block, block))                    # peak at (dy, dx)
    flat = surface.reshape(n * by * bx, -1)
    peak, index = flat.max(dim=1)
    dy = torch.div(index, block, rounding_mode="floor")
    dx = index % block
    dy = torch.where(dy > block // 2, dy - block, dy)
    dx = torch.where(dx > block // 2, dx - block, dx)
    # Beyond a quarter block the windowed blocks share too little content to trust the peak.
    limit = block // 4
    confident = (peak >= min_confidence) & (dy.abs() <= limit) & (dx.abs() <= limit)
    # A block with no texture gives a peak anywhere, usually at 0 with a small height.
    energy = fa.abs().pow(2).mean(dim=(-2, -1))
    confident &= energy > 1e-6 * block * block
    shift = torch.stack([dy, dx], dim=1).float().reshape(n, by, bx, 2).permute(0, 3, 1, 2)
    conf = torch.where(confident, peak, torch.zeros_like(peak)).reshape(n, 1, by, bx)
    return shift, conf


def block_motion(reference: torch.Tensor, moving: torch.Tensor, block: int, stride: int,
                 min_confidence: float = 0.08) -> tuple[torch.Tensor, torch.Tensor]:
    """Whole-pixel displacement of ``moving`` relative to ``reference`` per block.

    reference, moving: (N, 1, H, W) luma with H, W ≥ block. Returns ``shift`` (N, 2, by, bx)
    as (dy, dx) such that ``moving[y + dy, x + dx] ≈ reference[y, x]``, and the phase-
    correlation peak height (N, 1, by, bx) as a confidence in [0, 1].
    """
    fa, by, bx = block_spectra(reference, block, stride)
    fb, _, _ = block_spectra(moving, block, stride)
    return motion_from_spectra(fa, fb, reference.shape[0], by, bx, block, min_confidence)


def _fill_unreliable(shift: torch.Tensor, conf: torch.Tensor) -> torch.Tensor:
    """Blocks without a confident peak take the median of the confident blocks of their frame
    (0 if none), then every block takes the median of its 3×3 neighbourhood: one stray peak
    on a repeating texture must not tear a piece out of the picture."""
    n, _, by, bx = shift.shape
    ok = conf > 0                                                           # (N, 1, by, bx)
    masked = torch.where(ok, shift, torch.full_like(shift, float("nan"))).reshape(n, 2, by * bx)
    median = torch.nan_to_num(masked.nanmedian(dim=2).values, nan=0.0)      # (N, 2); 0 without any
    filled = torch.where(ok, shift, median.view(n, 2, 1, 1))
    if by >= 3 or bx >= 3:
        padded = F.pad(filled, (1, 1, 1, 1), mode="replicate")
        neighbourhood = F.unfold(padded, 3).reshape(n, 2, 9, by, bx)
        filled = neighbourhood.median(dim=2).values
    return filled


def integer_field(shift: torch.Tensor, height: int, width: int, block: int, stride: int) -> torch.Tensor:
    """Block displacements spread to every pixel (bilinear between block centres), rounded."""
    by, bx = shift.shape[-2:]
    if by == 1 and bx == 1:
        field = shift.expand(-1, -1, height, width)
    else:
        # Block centres lie at block/2 + k·stride; map pixel coordinates onto that grid.
        ys = ((torch.arange(height, device=shift.device, dtype=torch.float32) - block / 2 + 0.5) / stride)
        xs = ((torch.arange(width, device=shift.device, dtype=torch.float32) - block / 2 + 0.5) / stride)
        gy = (ys.clamp(0, by - 1) / max(by - 1, 1)) * 2 - 1 if by > 1 else torch.zeros_like(ys)
        gx = (xs.clamp(0, bx - 1) / max(bx - 1, 1)) * 2 - 1 if bx > 1 else torch.zeros_like(xs)
        grid = torch.stack(torch.meshgrid(gy, gx, indexing="ij")[::-1], dim=-1)
        grid = grid.unsqueeze(0).expand(shift.shape[0], -1, -1, -1)
        field = F.grid_sample(shift, grid, mode="bilinear", padding_mode="border", align_corners=True)
    return torch.round(field)


def shift_pixels(frames: torch.Tensor, field: torch.Tensor) -> torch.Tensor:
    """``out[y, x] = frames[y + dy, x + dx]`` with coordinates clamped at the border.

    frames (N, C, H, W), field (N, 2, H, W) of whole numbers: a pure gather, no interpolation.
    """
    n, c, h, w = frames.shape
    ys = torch.arange(h, device=frames.device).view(1, h, 1)
    xs = torch.arange(w, device=frames.device).view(1, 1, w)
    src_y = (ys + field[:, 0].long()).clamp_(0, h - 1)
    src_x = (xs + field[:, 1].long()).clamp_(0, w - 1)
    index = (src_y * w + src_x).view(n, 1, h * w).expand(n, c, h * w)
    return frames.reshape(n, c, h * w).gather(2, index).view(n, c, h, w)


def _shift_whole(frames: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """``shift_pixels`` for one displacement over the whole frame: a slice of the edge-padded frame."""
    h, w = frames.shape[-2:]
    py, px = min(abs(dy), h), min(abs(dx), w)
    padded = F.pad(frames, (px, px, py, py), mode="replicate") if (py or px) else frames
    y0, x0 = py + max(-py, min(py, dy)), px + max(-px, min(px, dx))
    return padded[..., y0:y0 + h, x0:x0 + w]


def align_window(clip: torch.Tensor, block: int = 64, stride: int | None = None) -> torch.Tensor:
    """Every frame of a window registered onto its centre frame by whole-pixel motion.

    clip: (N, T, C, H, W) with T odd; returns the same shape, the centre frame unchanged.
    """
    n, t, c, h, w = clip.shape
    centre = t // 2
    block = block_size_for(h, w, block)
    # Abutting blocks: the field is interpolated between their centres anyway, and overlap
    # would cost four times the FFTs for little gain in a Hann-windowed estimate.
    stride = stride or block
    spectra, by, bx = block_spectra(luma_tensor(clip.reshape(n * t, c, h, w)), block, stride)
    spectra = spectra.reshape(n, t, by * bx, *spectra.shape[-2:])
    reference = spectra[:, centre].reshape(n * by * bx, *spectra.shape[-2:])
    out = [None] * t
    out[centre] = clip[:, centre]
    for k in range(t):
        if k == centre:
            continue
        moving = spectra[:, k].reshape(n * by * bx, *spectra.shape[-2:])
        shift, conf = motion_from_spectra(reference, moving, n, by, bx, block)
        shift = _fill_unreliable(shift, conf)
        if n == 1 and bool((shift == shift[:, :, :1, :1]).all()):
            # one motion for the whole frame (a pan, a still shot): a slice, not a gather
            out[k] = _shift_whole(clip[:, k], int(shift[0, 0, 0, 0]), int(shift[0, 1, 0, 0]))
            continue
        field = integer_field(shift, h, w, block, stride)
        out[k] = shift_pixels(clip[:, k], field)
    return torch.stack(out, dim=1)
