"""Synthetic broadcast video for training multi-frame models, generated on the training device.

Ground truth for video super-resolution needs a clean high-resolution frame *and* low-resolution
neighbours that saw the same scene a moment earlier or later. We make both from still
photographs: a camera is moved over a photograph (pan, hand-held shake with sub-pixel steps,
slow zoom and roll, sometimes a second picture moving on its own, as a speaker does against a
chamber), each frame is rendered, and then degraded the way a 576-line broadcast chain
degrades it — optics, sampling, interlace or a deinterlacer's guess, the limited bandwidth of
luma and chroma, tape or sensor noise, and block-DCT compression.

Everything is batched torch, so a GPU renders and degrades thousands of clips a second; on a
CPU the same code serves tests and small runs. Per clip, the camera and the chain are drawn
once (one camera, one tape, one encoder); noise is fresh in every frame. The numpy
degradation model (restore.training.degrade) stays the reference used by the benchmarks; this
module reproduces its ``pal-broadcast`` preset step for step, with the codec modelled as
JPEG-style 8×8 DCT quantisation at 4:2:0 (MPEG-2 intra coding is the same transform) and a
deinterlacer's intra-field interpolation added, because our presets deinterlace before they
super-resolve.

Randomness comes from one ``torch.Generator``: a batch is a function of (seed, iteration).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import torch
from torch.nn import functional as F

# --- helpers -----------------------------------------------------------------------------


def _uniform(gen: torch.Generator, n: int, low: float, high: float, device) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=gen, device=device)


def _chance(gen: torch.Generator, n: int, p: float, device) -> torch.Tensor:
    return torch.rand(n, generator=gen, device=device) < p


@functools.lru_cache(maxsize=64)
def _on_device(key: str, values: tuple, device: str, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A small constant, uploaded once per device: on a GPU each upload would wait for the queue."""
    return torch.tensor(values, dtype=dtype, device=device)


def _choice(gen: torch.Generator, n: int, weights: list[float], device) -> torch.Tensor:
    w = _on_device("choice", tuple(float(x) for x in weights), str(device))
    return torch.multinomial(w.expand(n, -1), 1, generator=gen).squeeze(1)


# BT.601 full range (as JPEG and the numpy model use).
_RGB2YCC = ((0.299, 0.587, 0.114), (-0.168736, -0.331264, 0.5), (0.5, -0.418688, -0.081312))
_YCC2RGB = tuple(tuple(float(v) for v in row) for row in torch.linalg.inv(torch.tensor(_RGB2YCC)).tolist())


def rgb_to_ycc(x: torch.Tensor) -> torch.Tensor:
    m = _on_device("rgb2ycc", _RGB2YCC, str(x.device), x.dtype)
    return torch.einsum("ij,...jhw->...ihw", m, x)


def ycc_to_rgb(x: torch.Tensor) -> torch.Tensor:
    m = _on_device("ycc2rgb", _YCC2RGB, str(x.device), x.dtype)
    return torch.einsum("ij,...jhw->...ihw", m, x)


def gaussian_kernels(sigma_y: torch.Tensor, sigma_x: torch.Tensor, theta: torch.Tensor, size: int) -> torch.Tensor:
    """(N, size, size) normalised anisotropic Gaussians (sigmas in pixels, theta in radians)."""
    r = torch.arange(size, device=sigma_x.device, dtype=torch.float32) - size // 2
    yy, xx = torch.meshgrid(r, r, indexing="ij")
    c, s = torch.cos(theta)[:, None, None], torch.sin(theta)[:, None, None]
    u = c * xx + s * yy
    v = -s * xx + c * yy
    k = torch.exp(-0.5 * ((u / sigma_x[:, None, None].clamp_min(1e-3)) ** 2
                          + (v / sigma_y[:, None, None].clamp_min(1e-3)) ** 2))
    return k / k.sum(dim=(1, 2), keepdim=True)


def filter_per_sample(x: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    """x (N, C, H, W) filtered with kernels (N, kh, kw), one per sample, reflect padding."""
    n, c, h, w = x.shape
    kh, kw = kernels.shape[-2:]
    padded = F.pad(x.reshape(1, n * c, h, w), (kw // 2, kw // 2, kh // 2, kh // 2), mode="reflect")
    weight = kernels.repeat_interleave(c, dim=0).unsqueeze(1)
    return F.conv2d(padded, weight, groups=n * c).reshape(n, c, h, w)


def horizontal_gaussian(x: torch.Tensor, sigma: torch.Tensor, max_sigma: float | None = None) -> torch.Tensor:
    """Per-sample horizontal-only Gaussian (sigma (N,) in pixels; 0 leaves the sample as is).

    ``max_sigma`` (known from the ranges) sizes the kernel without reading ``sigma`` back from the
    device, which would stall a GPU's queue."""
    if max_sigma is None:
        max_sigma = float(sigma.max()) if sigma.numel() else 0.0
    radius = int(math.ceil(3 * max_sigma))
    if radius < 1:
        return x
    r = torch.arange(-radius, radius + 1, device=x.device, dtype=torch.float32)
    k = torch.exp(-0.5 * (r[None] / sigma[:, None].clamp_min(1e-3)) ** 2)
    k = torch.where(sigma[:, None] > 0.05, k, (r[None] == 0).float())
    k = k / k.sum(dim=1, keepdim=True)
    return filter_per_sample(x, k[:, None, :])


def sigma_for_bandwidth(fraction_of_nyquist: torch.Tensor) -> torch.Tensor:
    """The Gaussian whose −3 dB point lies at the fraction of Nyquist (as the numpy model)."""
    return 0.1325 / (0.5 * fraction_of_nyquist.clamp_min(1e-3))


# --- JPEG-style block-DCT quantisation ------------------------------------------------------

_JPEG_LUMA = torch.tensor([
    [16, 11, 10, 16, 24, 40, 51, 61], [12, 12, 14, 19, 26, 58, 60, 55], [14, 13, 16, 24, 40, 57, 69, 56],
    [14, 17, 22, 29, 51, 87, 80, 62], [18, 22, 37, 56, 68, 109, 103, 77], [24, 35, 55, 64, 81, 104, 113, 92],
    [49, 64, 78, 87, 103, 121, 120, 101], [72, 92, 95, 98, 112, 100, 103, 99]], dtype=torch.float32)
_JPEG_CHROMA = torch.full((8, 8), 99.0)
_JPEG_CHROMA[:4, :4] = torch.tensor([[17, 18, 24, 47], [18, 21, 26, 66], [24, 26, 56, 99], [47, 66, 99, 99]],
                                    dtype=torch.float32)


@functools.lru_cache(maxsize=8)
def _dct_matrix(device) -> torch.Tensor:
    k = torch.arange(8, device=device, dtype=torch.float32)
    m = torch.cos((2 * k[None, :] + 1) * k[:, None] * math.pi / 16) * math.sqrt(2 / 8)
    m[0] /= math.sqrt(2)
    return m


def quality_tables(quality: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """IJG scaling of the standard tables for per-sample quality (N,) in 1..100."""
    q = quality.clamp(1, 100)
    scale = torch.where(q < 50, 5000 / q, 200 - 2 * q)[:, None, None]
    base_luma = _on_device("jpeg-luma", tuple(map(tuple, _JPEG_LUMA.tolist())), str(q.device))
    base_chroma = _on_device("jpeg-chroma", tuple(map(tuple, _JPEG_CHROMA.tolist())), str(q.device))
    luma = ((base_luma[None] * scale + 50) / 100).floor().clamp(1, 255)
    chroma = ((base_chroma[None] * scale + 50) / 100).floor().clamp(1, 255)
    return luma, chroma


def _quantise_plane(plane: torch.Tensor, table: torch.Tensor, dct: torch.Tensor) -> torch.Tensor:
    """plane (N, H, W) in 0..255 levels minus 128, H and W multiples of 8."""
    n, h, w = plane.shape
    blocks = plane.reshape(n, h // 8, 8, w // 8, 8).permute(0, 1, 3, 2, 4)
    coeffs = dct @ blocks @ dct.T
    t = table[:, None, None]
    coeffs = torch.round(coeffs / t) * t
    blocks = dct.T @ coeffs @ dct
    return blocks.permute(0, 1, 3, 2, 4).reshape(n, h, w)


def jpeg_like(rgb: torch.Tensor, quality: torch.Tensor) -> torch.Tensor:
    """Baseline JPEG's loss on (N, 3, H, W) RGB in [0, 1]: 4:2:0 chroma, 8×8 DCT quantisation."""
    n, _, h, w = rgb.shape
    ph, pw = -h % 16, -w % 16
    x = F.pad(rgb, (0, pw, 0, ph), mode="replicate") if (ph or pw) else rgb
    ycc = rgb_to_ycc(x.clamp(0, 1)) * 255.0
    dct = _dct_matrix(str(rgb.device))
    luma_t, chroma_t = quality_tables(quality)
    y = _quantise_plane(ycc[:, 0] - 128.0, luma_t, dct) + 128.0
    cbcr = F.avg_pool2d(ycc[:, 1:], 2)
    cb = _quantise_plane(cbcr[:, 0], chroma_t, dct)
    cr = _quantise_plane(cbcr[:, 1], chroma_t, dct)
    cbcr = F.interpolate(torch.stack([cb, cr], 1), scale_factor=2, mode="bilinear", align_corners=False)
    out = ycc_to_rgb(torch.cat([y[:, None], cbcr], 1) / 255.0).clamp(0, 1)
    return out[..., :h, :w]


# --- the camera -------------------------------------------------------------------------------


@dataclass
class CameraRanges:
    """How the synthetic camera moves, in high-resolution pixels per frame."""

    static_prob: float = 0.3           # tripod, speaker still: only sub-pixel shake at most
    pan_max: float = 6.0               # HR px / frame of a steady pan
    shake_prob: float = 0.5
    shake_sigma: tuple[float, float] = (0.1, 1.0)
    zoom_prob: float = 0.2
    zoom_rate: float = 0.012           # relative scale change per frame
    roll_prob: float = 0.15
    roll_rate: float = 0.005           # radians per frame
    object_prob: float = 0.35          # a second picture moving on its own (the speaker)
    object_speed: float = 4.0
    cut_prob: float = 0.03             # a neighbour from another shot
    flicker_prob: float = 0.2
    flicker: float = 0.03
    scale_range: tuple[float, float] = (0.45, 1.0)   # HR pixels per source pixel


def _rotation_matrix(k: torch.Tensor, flip: torch.Tensor) -> torch.Tensor:
    """(N, 2, 2) for the eight flips/rotations (k quarter turns, then an optional mirror)."""
    angle = k.float() * (math.pi / 2)
    c, s = torch.cos(angle).round(), torch.sin(angle).round()
    rot = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)
    mirror = torch.ones_like(c)
    mirror = torch.where(flip, -mirror, mirror)
    return rot * torch.stack([mirror, torch.ones_like(mirror)], -1)[:, None, :]


def camera_paths(gen: torch.Generator, n: int, frames: int, ranges: CameraRanges, device) -> dict:
    """Per clip and frame: translation (HR px), zoom factor and roll angle, relative to the centre."""
    centre = frames // 2
    k = torch.arange(frames, device=device, dtype=torch.float32) - centre
    static = _chance(gen, n, ranges.static_prob, device)
    speed = _uniform(gen, n, 0, 1, device) ** 2 * ranges.pan_max      # mostly slow, sometimes fast
    speed = torch.where(static, torch.zeros_like(speed), speed)
    direction = _uniform(gen, n, -math.pi, math.pi, device)
    pan = torch.stack([torch.sin(direction), torch.cos(direction)], -1) * speed[:, None]   # (dy, dx)
    translation = pan[:, None, :] * k[None, :, None]
    shake_on = _chance(gen, n, ranges.shake_prob, device)
    shake_sigma = _uniform(gen, n, *ranges.shake_sigma, device) * shake_on
    steps = torch.randn(n, frames, 2, generator=gen, device=device) * shake_sigma[:, None, None]
    walk = steps.cumsum(1)
    translation = translation + walk - walk[:, centre:centre + 1]
    zoom_rate = _uniform(gen, n, -ranges.zoom_rate, ranges.zoom_rate, device) * _chance(gen, n, ranges.zoom_prob, device)
    roll_rate = _uniform(gen, n, -ranges.roll_rate, ranges.roll_rate, device) * _chance(gen, n, ranges.roll_prob, device)
    zoom = 1.0 + zoom_rate[:, None] * k[None]
    roll = roll_rate[:, None] * k[None]
    phase = _uniform(gen, 2 * n, 0, 1, device).view(n, 1, 2)           # sub-pixel phase of the centre
    return {"translation": translation + phase, "zoom": zoom, "roll": roll}


def render_clips(sources: torch.Tensor, patch: int, frames: int, gen: torch.Generator,
                 ranges: CameraRanges | None = None) -> torch.Tensor:
    """Clips (N, T, 3, patch, patch) filmed by a moving camera over ``sources`` (N, 3, S, S) in [0, 1].

    Each frame is rendered at twice the patch size with bicubic sampling and averaged 2×2, so
    every frame, the centre one included, is anti-aliased the same way.
    """
    ranges = ranges or CameraRanges()
    device = sources.device
    n, _, s_h, s_w = sources.shape
    path = camera_paths(gen, n, frames, ranges, device)
    scale = _uniform(gen, n, *ranges.scale_range, device)                   # HR px per source px
    orient = _rotation_matrix(torch.randint(0, 4, (n,), generator=gen, device=device),
                              _chance(gen, n, 0.5, device))
    # Keep the whole path inside the source: half the window, the pan and the zoom.
    reach = (patch / 2 * (1 + ranges.zoom_rate * frames) * 1.45 + path["translation"].abs().amax(dim=(1, 2)) + 2)
    reach_src = reach / scale
    too_big = reach_src > (min(s_h, s_w) / 2 - 2)
    scale = torch.where(too_big, reach / (min(s_h, s_w) / 2 - 2), scale)
    reach_src = reach / scale
    cy = reach_src + torch.rand(n, generator=gen, device=device) * (s_h - 2 * reach_src).clamp_min(0)
    cx = reach_src + torch.rand(n, generator=gen, device=device) * (s_w - 2 * reach_src).clamp_min(0)

    size = 2 * patch
    r = (torch.arange(size, device=device, dtype=torch.float32) + 0.5) / 2 - patch / 2   # HR px from centre
    oy, ox = torch.meshgrid(r, r, indexing="ij")
    offsets = torch.stack([oy, ox], -1).view(1, 1, size * size, 2)                       # (1,1,P,2)
    zoom = path["zoom"][:, :, None, None]
    c, s = torch.cos(path["roll"]), torch.sin(path["roll"])
    roll = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)          # (N,T,2,2)
    pts = offsets * zoom + path["translation"][:, :, None, :]                            # (N,T,P,2)
    pts = torch.einsum("ntij,ntpj->ntpi", roll, pts)
    pts = torch.einsum("nij,ntpj->ntpi", orient, pts) / scale[:, None, None, None]
    y = pts[..., 0] + cy[:, None, None]
    x = pts[..., 1] + cx[:, None, None]
    grid = torch.stack([x / s_w * 2 - 1, y / s_h * 2 - 1], -1).view(n, frames * size, size, 2)
    rendered = F.grid_sample(sources, grid, mode="bicubic", padding_mode="reflection", align_corners=False)
    rendered = rendered.view(n, 3, frames, size, size).permute(0, 2, 1, 3, 4)
    clips = F.avg_pool2d(rendered.reshape(n * frames, 3, size, size), 2).view(n, frames, 3, patch, patch)

    if ranges.object_prob > 0:
        clips = _add_moving_object(clips, sources, gen, ranges, patch, frames)
    if ranges.cut_prob > 0:
        clips = _cut_neighbours(clips, gen, ranges)
    if ranges.flicker_prob > 0:
        on = _chance(gen, n, ranges.flicker_prob, device)
        gain = 1 + torch.randn(n, frames, generator=gen, device=device) * ranges.flicker * on[:, None]
        gain[:, frames // 2] = 1.0
        clips = clips * gain[:, :, None, None, None]
    return clips.clamp(0, 1)


def _add_moving_object(clips: torch.Tensor, sources: torch.Tensor, gen: torch.Generator, ranges: CameraRanges,
                       patch: int, frames: int) -> torch.Tensor:
    """An ellipse of another clip's picture moving across this one (occlusion and its reveal)."""
    n = clips.shape[0]
    device = clips.device
    on = _chance(gen, n, ranges.object_prob, device)
    donor = clips.roll(1, dims=0)[:, frames // 2]                          # another picture, still
    k = torch.arange(frames, device=device, dtype=torch.float32) - frames // 2
    velocity = (torch.rand(n, 2, generator=gen, device=device) * 2 - 1) * ranges.object_speed
    centre = (torch.rand(n, 2, generator=gen, device=device) * 0.6 + 0.2) * patch
    radii = (torch.rand(n, 2, generator=gen, device=device) * 0.3 + 0.15) * patch
    r = torch.arange(patch, device=device, dtype=torch.float32) + 0.5
    yy, xx = torch.meshgrid(r, r, indexing="ij")
    out = clips.clone()
    for t in range(frames):
        shift = velocity * k[t]
        # the object's picture moves with it: sample the donor shifted by the same amount
        theta = torch.zeros(n, 2, 3, device=device)
        theta[:, 0, 0] = 1
        theta[:, 1, 1] = 1
        theta[:, 0, 2] = -shift[:, 1] * 2 / patch
        theta[:, 1, 2] = -shift[:, 0] * 2 / patch
        grid = F.affine_grid(theta, (n, 3, patch, patch), align_corners=False)
        moved = F.grid_sample(donor, grid, mode="bicubic", padding_mode="reflection", align_corners=False)
        cy = centre[:, 0] + shift[:, 0]
        cx = centre[:, 1] + shift[:, 1]
        d = ((yy[None] - cy[:, None, None]) / radii[:, 0, None, None]) ** 2 + \
            ((xx[None] - cx[:, None, None]) / radii[:, 1, None, None]) ** 2
        mask = (1 - d).mul(radii.min(dim=1).values[:, None, None]).clamp(0, 1)   # ~1 px soft edge
        mask = mask * on[:, None, None]
        out[:, t] = clips[:, t] * (1 - mask[:, None]) + moved * mask[:, None]
    return out


def _cut_neighbours(clips: torch.Tensor, gen: torch.Generator, ranges: CameraRanges) -> torch.Tensor:
    """Some clips get a shot change: frames after a random point come from another clip."""
    n, t = clips.shape[:2]
    device = clips.device
    on = _chance(gen, n, ranges.cut_prob, device)
    if t < 2:
        return clips
    centre = t // 2
    at = torch.randint(0, t - 1, (n,), generator=gen, device=device)       # cut between at and at+1
    other = clips.roll(2, dims=0)
    k = torch.arange(t, device=device)
    after = k[None] > at[:, None]
    centre_after = after[:, centre:centre + 1]
    # frames on the other side of the cut from the centre come from the other shot
    foreign = (after != centre_after) & on[:, None]
    return torch.where(foreign[:, :, None, None, None], other, clips)


# --- the broadcast chain ----------------------------------------------------------------------


@dataclass
class BroadcastRanges:
    """The ``pal-broadcast`` preset of restore.training.degrade, in torch (LR pixels, 8-bit levels)."""

    resize_weights: tuple[float, float, float] = (0.5, 0.3, 0.2)   # area, bicubic, bilinear
    blur_prob: float = 0.9
    blur_sigma: tuple[float, float] = (0.3, 1.5)
    aniso_prob: float = 0.3
    interlace_prob: float = 0.3
    interlace_blend_prob: float = 0.2
    interlace_blend: tuple[float, float] = (0.2, 0.5)
    deinterlaced_prob: float = 0.15           # one field kept, the other interpolated (bwdif in motion)
    luma_bandwidth_prob: float = 0.7
    luma_cutoff: tuple[float, float] = (0.6, 0.95)
    chroma_bandwidth: tuple[float, float] = (0.15, 0.35)
    chroma_line_average_prob: float = 0.5
    chroma_422_prob: float = 0.5
    noise_prob: float = 0.8
    noise_sigma: tuple[float, float] = (0.5, 6.0)
    noise_gray_prob: float = 0.5
    noise_poisson_prob: float = 0.3
    codec_quality: tuple[float, float] = (40.0, 95.0)
    clean_prob: float = 0.03                  # a few clips with only the resize: never worse than bicubic
    extra: dict = field(default_factory=dict)


def degrade_clips(hr: torch.Tensor, scale: int, gen: torch.Generator,
                  ranges: BroadcastRanges | None = None) -> torch.Tensor:
    """HR clips (N, T, 3, H, W) → LR clips (N, T, 3, H/scale, W/scale), quantised to 8 bits."""
    ranges = ranges or BroadcastRanges()
    n, t, c, h, w = hr.shape
    device = hr.device
    lh, lw = h // scale, w // scale
    frames = hr.reshape(n * t, c, h, w)

    def per_frame(v: torch.Tensor) -> torch.Tensor:        # clip-level draw → every frame of it
        return v.repeat_interleave(t, dim=0)

    clean = per_frame(_chance(gen, n, ranges.clean_prob, device))

    # sampling to the target grid
    mode = per_frame(_choice(gen, n, list(ranges.resize_weights), device))
    area = F.avg_pool2d(frames, scale) if h % scale == 0 and w % scale == 0 else \
        F.interpolate(frames, size=(lh, lw), mode="area")
    bicubic = F.interpolate(frames, size=(lh, lw), mode="bicubic", antialias=True, align_corners=False)
    bilinear = F.interpolate(frames, size=(lh, lw), mode="bilinear", antialias=True, align_corners=False)
    lr = torch.where((mode == 0)[:, None, None, None], area, torch.where((mode == 1)[:, None, None, None],
                                                                          bicubic, bilinear))
    degraded = lr

    # optics
    blur_on = per_frame(_chance(gen, n, ranges.blur_prob, device))
    sx = _uniform(gen, n, *ranges.blur_sigma, device)
    aniso = _chance(gen, n, ranges.aniso_prob, device)
    sy = torch.where(aniso, _uniform(gen, n, *ranges.blur_sigma, device), sx)
    theta = _uniform(gen, n, -math.pi, math.pi, device)
    size = 2 * int(math.ceil(3 * ranges.blur_sigma[1])) + 1
    kernels = gaussian_kernels(per_frame(sy), per_frame(sx), per_frame(theta), size)
    blurred = filter_per_sample(degraded, kernels)
    degraded = torch.where(blur_on[:, None, None, None], blurred, degraded)

    # fields
    degraded = degraded.view(n, t, c, lh, lw)
    interlace_on = _chance(gen, n, ranges.interlace_prob, device)
    blend_mode = _chance(gen, n, ranges.interlace_blend_prob, device)
    amount = _uniform(gen, n, *ranges.interlace_blend, device)
    previous = torch.cat([degraded[:, :1].roll(shifts=(1, 2), dims=(-2, -1)), degraded[:, :-1]], 1)
    woven = degraded.clone()
    woven[..., 1::2, :] = previous[..., 1::2, :]
    blended = (1 - amount[:, None, None, None, None]) * degraded + amount[:, None, None, None, None] * previous
    interlaced = torch.where(blend_mode[:, None, None, None, None], blended, woven)
    degraded = torch.where(interlace_on[:, None, None, None, None], interlaced, degraded)
    deint_on = _chance(gen, n, ranges.deinterlaced_prob, device) & ~interlace_on
    degraded = torch.where(deint_on[:, None, None, None, None], _intra_field(degraded), degraded)
    degraded = degraded.reshape(n * t, c, lh, lw)

    # line bandwidth
    ycc = rgb_to_ycc(degraded)
    luma_on = per_frame(_chance(gen, n, ranges.luma_bandwidth_prob, device))
    cutoff = per_frame(_uniform(gen, n, *ranges.luma_cutoff, device))
    luma_sigma = torch.where(luma_on, sigma_for_bandwidth(cutoff), torch.zeros_like(cutoff))
    y = horizontal_gaussian(ycc[:, :1], luma_sigma, 0.1325 / (0.5 * max(ranges.luma_cutoff[0], 1e-3)))
    chroma_sigma = sigma_for_bandwidth(per_frame(_uniform(gen, n, *ranges.chroma_bandwidth, device)))
    cbcr = horizontal_gaussian(ycc[:, 1:], chroma_sigma, 0.1325 / (0.5 * max(ranges.chroma_bandwidth[0], 1e-3)))
    line_avg = per_frame(_chance(gen, n, ranges.chroma_line_average_prob, device))
    averaged = 0.5 * (cbcr + F.pad(cbcr, (0, 0, 1, 0), mode="replicate")[..., :-1, :])
    cbcr = torch.where(line_avg[:, None, None, None], averaged, cbcr)
    is422 = per_frame(_chance(gen, n, ranges.chroma_422_prob, device))
    sub420 = F.interpolate(F.avg_pool2d(cbcr, 2), size=(lh, lw), mode="bilinear", align_corners=False) \
        if lh % 2 == 0 and lw % 2 == 0 else cbcr
    sub422 = F.interpolate(F.avg_pool2d(cbcr, (1, 2)), size=(lh, lw), mode="bilinear", align_corners=False) \
        if lw % 2 == 0 else cbcr
    cbcr = torch.where(is422[:, None, None, None], sub422, sub420)
    degraded = ycc_to_rgb(torch.cat([y, cbcr], 1)).clamp(0, 1)

    # noise: level and kind per clip, fresh grain every frame
    noise_on = per_frame(_chance(gen, n, ranges.noise_prob, device))
    sigma = per_frame(_uniform(gen, n, *ranges.noise_sigma, device)) / 255.0
    gray = per_frame(_chance(gen, n, ranges.noise_gray_prob, device))
    poisson = per_frame(_chance(gen, n, ranges.noise_poisson_prob, device))
    white = torch.randn(degraded.shape, generator=gen, device=device)
    white = torch.where(gray[:, None, None, None], white[:, :1].expand_as(white), white)
    # Poisson-like: deviation grows with the signal (photon noise), same mean level as Gaussian
    signal = torch.sqrt(degraded.clamp_min(0) + 1e-4) / math.sqrt(0.25)
    std = sigma[:, None, None, None] * torch.where(poisson[:, None, None, None], signal, torch.ones_like(signal))
    degraded = torch.where(noise_on[:, None, None, None], (degraded + white * std).clamp(0, 1), degraded)

    # compression
    quality = per_frame(_uniform(gen, n, *ranges.codec_quality, device))
    degraded = jpeg_like(degraded, quality)

    degraded = torch.where(clean[:, None, None, None], lr, degraded)
    degraded = torch.round(degraded.clamp(0, 1) * 255.0) / 255.0
    return degraded.view(n, t, c, lh, lw)


def _intra_field(clips: torch.Tensor) -> torch.Tensor:
    """Each frame rebuilt from one of its fields (alternating parity), the other lines
    interpolated vertically with a cubic filter, as a deinterlacer does where it sees motion."""
    n, t, c, h, w = clips.shape
    out = clips.clone()
    kernel = clips.new_tensor([-1 / 16, 9 / 16, 9 / 16, -1 / 16]).view(1, 1, 4, 1)
    for k in range(t):
        keep = k % 2                                                   # field parity of this frame
        field = clips[:, k, :, keep::2, :]                             # (n, c, h/2, w)
        padded = F.pad(field.reshape(n * c, 1, field.shape[-2], w), (0, 0, 1, 2), mode="replicate")
        between = F.conv2d(padded, kernel).view(n, c, -1, w)            # values halfway below each line
        missing = (1 - keep)
        if missing == 1:   # odd lines lie between kept lines i and i+1
            out[:, k, :, 1::2, :] = between[:, :, : out[:, k, :, 1::2, :].shape[-2]]
        else:              # even lines lie above kept line i (between i-1 and i)
            shifted = torch.cat([field[:, :, :1], between[:, :, :-1]], dim=2)
            out[:, k, :, 0::2, :] = shifted[:, :, : out[:, k, :, 0::2, :].shape[-2]]
    return out
