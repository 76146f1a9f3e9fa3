"""Face training pairs made on the training device: the archival chain of ``face_data.degrade_face``
in batched torch, so a GPU restores thousands of faces a second instead of waiting on a CPU.

Same chain, same ranges (the config's ``degradation`` section): a similarity jitter shared by
both sides, optical blur, the face made small (30–128 px in the frame), grain or sensor noise,
block-DCT compression at that size, back up to the crop size, and a tone drift on the input.
A third of the pairs are greyscale on both sides. Added for the faces of broadcast video: a
share of inputs keeps one field only (a deinterlacer's guess in motion) and loses chroma
bandwidth, as a 576i recording does before super-resolution brings the face to the crop size.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from restore.training.video_synth import (
    _chance,
    _uniform,
    filter_per_sample,
    gaussian_kernels,
    horizontal_gaussian,
    jpeg_like,
    rgb_to_ycc,
    sigma_for_bandwidth,
    ycc_to_rgb,
)

SMALL_SIZES = (32, 40, 48, 56, 64, 72, 80, 96, 112, 128)


def _range(cfg: dict, key: str, default) -> tuple[float, float]:
    value = cfg.get(key, default)
    return (float(value[0]), float(value[1])) if isinstance(value, (list, tuple)) else (float(value), float(value))


def _jitter(hq: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Small similarity jitter: detectors on degraded footage miss the template by a few pixels."""
    n, _, size, _ = hq.shape
    device = hq.device
    angle = _uniform(gen, n, -4, 4, device) * math.pi / 180
    scale = _uniform(gen, n, 0.95, 1.05, device)
    shift = (torch.rand(n, 2, generator=gen, device=device) * 0.05 - 0.025) * 2
    theta = torch.zeros(n, 2, 3, device=device)
    theta[:, 0, 0] = torch.cos(angle) / scale
    theta[:, 0, 1] = -torch.sin(angle) / scale
    theta[:, 1, 0] = torch.sin(angle) / scale
    theta[:, 1, 1] = torch.cos(angle) / scale
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta, list(hq.shape), align_corners=False)
    return F.grid_sample(hq, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def degrade_faces(crops: torch.Tensor, gen: torch.Generator, cfg: dict | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(degraded input, target), float N×3×S×S in [0, 1], from uint8 or float aligned crops."""
    cfg = cfg or {}
    hq = crops.float() / 255.0 if crops.dtype == torch.uint8 else crops.float()
    n, _, size, _ = hq.shape
    device = hq.device
    flip = _chance(gen, n, 0.5, device)
    hq = torch.where(flip[:, None, None, None], hq.flip(-1), hq)
    grey = _chance(gen, n, float(cfg.get("grey_p", 0.35)), device)
    luma = (hq * hq.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    hq = torch.where(grey[:, None, None, None], luma.expand_as(hq), hq)
    hq = _jitter(hq, gen).clamp(0, 1)

    sigma = _uniform(gen, n, *_range(cfg, "blur_sigma", (0.3, 2.5)), device)
    ksize = 2 * int(math.ceil(3 * float(sigma.max()))) + 1
    lq = filter_per_sample(hq, gaussian_kernels(sigma, sigma, torch.zeros_like(sigma), ksize))

    low, high = _range(cfg, "small_size", (40, 128))
    sizes = [s for s in SMALL_SIZES if low <= s <= high] or [int(low)]
    pick = torch.randint(0, len(sizes), (n,), generator=gen, device=device)
    noise_on = _chance(gen, n, float(cfg.get("noise_p", 0.8)), device)
    noise_sigma = _uniform(gen, n, *_range(cfg, "noise_sigma", (0.005, 0.06)), device)
    luma_grain = _chance(gen, n, 0.5, device)
    jpeg_on = _chance(gen, n, float(cfg.get("jpeg_p", 0.7)), device)
    quality = _uniform(gen, n, *_range(cfg, "jpeg_quality", (15, 85)), device)
    field_on = _chance(gen, n, float(cfg.get("field_p", 0.15)), device)
    chroma_on = _chance(gen, n, float(cfg.get("chroma_p", 0.3)), device)
    out = torch.empty_like(lq)
    for index, small in enumerate(sizes):
        members = (pick == index).nonzero().squeeze(1)
        if members.numel() == 0:
            continue
        x = lq[members]
        if small < size:
            x = F.interpolate(x, size=(small, small), mode="area")
        m = members
        # one field kept, the lines between interpolated (a deinterlacer where the speaker moves)
        kept = x[..., 0::2, :]
        below = torch.cat([kept[..., 1:, :], kept[..., -1:, :]], dim=-2)
        fields = x.clone()
        odd = fields[..., 1::2, :].shape[-2]
        fields[..., 1::2, :] = (0.5 * (kept + below))[..., :odd, :]
        x = torch.where(field_on[m, None, None, None], fields, x)
        ycc = rgb_to_ycc(x)
        narrow = horizontal_gaussian(ycc[:, 1:], sigma_for_bandwidth(torch.full((len(m),), 0.25, device=device)))
        ycc = torch.where(chroma_on[m, None, None, None], torch.cat([ycc[:, :1], narrow], 1), ycc)
        x = ycc_to_rgb(ycc)
        white = torch.randn(x.shape, generator=gen, device=device)
        white = torch.where(luma_grain[m, None, None, None], white[:, :1].expand_as(white), white)
        x = torch.where(noise_on[m, None, None, None], x + white * noise_sigma[m, None, None, None], x).clamp(0, 1)
        x = torch.where(jpeg_on[m, None, None, None], jpeg_like(x, quality[m]), x)
        x = torch.round(x * 255) / 255
        if small < size:
            x = F.interpolate(x, size=(size, size), mode="bicubic", align_corners=False)
        out[members] = x
    tone = _chance(gen, n, float(cfg.get("tone_p", 0.3)), device)
    gain = _uniform(gen, n, 0.85, 1.15, device)
    offset = _uniform(gen, n, -0.05, 0.05, device)
    out = torch.where(tone[:, None, None, None], out * gain[:, None, None, None] + offset[:, None, None, None], out)
    return out.clamp(0, 1), hq


def batch(crops: torch.Tensor, gen: torch.Generator, count: int, cfg: dict | None = None,
          patch: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """A training batch (input, target) drawn from uint8 N×3×S×S crops on the device; with
    ``patch``, one random window of each pair after the whole crop was degraded."""
    picks = torch.randint(0, len(crops), (count,), generator=gen, device=crops.device)
    lq, hq = degrade_faces(crops[picks], gen, cfg)
    size = hq.shape[-1]
    if patch and patch < size:
        y = torch.randint(0, size - patch + 1, (count,), generator=gen, device=crops.device)
        x = torch.randint(0, size - patch + 1, (count,), generator=gen, device=crops.device)
        r = torch.arange(patch, device=crops.device)
        rows = (y[:, None] + r[None]).view(count, 1, patch, 1).expand(count, 3, patch, size)
        lq = lq.gather(2, rows)
        hq = hq.gather(2, rows)
        cols = (x[:, None] + r[None]).view(count, 1, 1, patch).expand(count, 3, patch, patch)
        lq, hq = lq.gather(3, cols), hq.gather(3, cols)
    return lq, hq
