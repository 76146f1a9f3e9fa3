"""Model execution handled once for every stage: precision, tiling with overlap, OOM fallback.

A 4K frame does not fit a small GPU (or is slow to push through in one piece on a
CPU); tiles with overlapping borders, blended with feathered weights, give the same
picture without seams. When CUDA runs out of memory, the tile size halves and the
batch is run again: a frame is never dropped.
"""

from __future__ import annotations

import functools
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Callable

import torch
import torch.nn.functional as F


@functools.lru_cache(maxsize=None)
def cpu_has_bf16() -> bool:
    try:
        flags = open("/proc/cpuinfo").read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def choose_precision(requested: str, device: str) -> torch.dtype:
    """fp16 on GPUs, bf16 on CPUs with native bf16, fp32 otherwise (or as requested)."""
    if requested == "fp32":
        return torch.float32
    if requested == "fp16":
        return torch.float16
    if requested == "bf16":
        return torch.bfloat16
    if device.startswith("cuda"):
        return torch.float16
    return torch.bfloat16 if cpu_has_bf16() else torch.float32


def autocast_for(device: str, dtype: torch.dtype) -> AbstractContextManager[Any]:
    if dtype == torch.float32:
        return nullcontext()
    return torch.autocast(device_type="cuda" if device.startswith("cuda") else "cpu", dtype=dtype)


def auto_tile(device: str, height: int, width: int, bytes_per_pixel: float) -> int:
    """Largest square tile (multiple of 64) whose activations fit in half the free GPU memory."""
    if not device.startswith("cuda"):
        return 0  # CPU: whole frames; RAM is ample at broadcast sizes
    free, _ = torch.cuda.mem_get_info(torch.device(device))
    side = int((free * 0.5 / max(bytes_per_pixel, 1.0)) ** 0.5) // 64 * 64
    return 0 if side >= max(height, width) else max(64, side)


def _ramp(length: int, overlap: int, at_start: bool, at_end: bool, device: torch.device,
          dtype: torch.dtype) -> torch.Tensor:
    w = torch.ones(length, device=device, dtype=dtype)
    if overlap > 0:
        # zero over the outer quarter of the overlap (where a tile's padding corrupts its own
        # output), then a linear cross-fade: seams vanish and small receptive fields are exact
        i = torch.arange(overlap, device=device, dtype=dtype) + 0.5
        ramp = ((i - overlap / 4) / (overlap / 2)).clamp(0, 1)
        if not at_start:
            w[:overlap] = ramp
        if not at_end:
            w[-overlap:] = ramp.flip(0)
    return w


def tiled(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, scale: int, tile: int,
          overlap: int = 16) -> torch.Tensor:
    """Apply ``fn`` (N,C,H,W → N,C,H·s,W·s) tile by tile with feathered overlaps."""
    n, c, h, w = x.shape
    if tile <= 0 or (h <= tile and w <= tile):
        return fn(x)
    overlap = min(overlap, tile // 2)
    step = tile - overlap
    out: torch.Tensor | None = None
    weight = torch.zeros((1, 1, h * scale, w * scale), device=x.device, dtype=torch.float32)
    ys = list(range(0, max(h - tile, 0) + 1, step))
    xs = list(range(0, max(w - tile, 0) + 1, step))
    if ys[-1] + tile < h:
        ys.append(h - tile)
    if xs[-1] + tile < w:
        xs.append(w - tile)
    for y0 in ys:
        for x0 in xs:
            y1, x1 = min(y0 + tile, h), min(x0 + tile, w)
            piece = fn(x[:, :, y0:y1, x0:x1]).float()
            if out is None:
                out = torch.zeros((n, piece.shape[1], h * scale, w * scale), device=x.device, dtype=torch.float32)
            wy = _ramp(piece.shape[2], overlap * scale, y0 == 0, y1 == h, x.device, torch.float32)
            wx = _ramp(piece.shape[3], overlap * scale, x0 == 0, x1 == w, x.device, torch.float32)
            mask = wy[:, None] * wx[None, :]
            out[:, :, y0 * scale:y1 * scale, x0 * scale:x1 * scale] += piece * mask
            weight[:, :, y0 * scale:y1 * scale, x0 * scale:x1 * scale] += mask
    assert out is not None  # ys and xs each hold at least one position
    return out / weight.clamp_min(1e-8)


def _is_oom(exc: BaseException) -> bool:
    return isinstance(exc, torch.cuda.OutOfMemoryError) or "out of memory" in str(exc).lower()


def run_model(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, scale: int, tile: int,
              overlap: int = 16, min_tile: int = 64, on_retry: Callable[[int], None] | None = None) -> torch.Tensor:
    """``tiled`` with the OOM fallback: halve the tile until the batch fits."""
    h, w = x.shape[-2:]
    while True:
        try:
            return tiled(fn, x, scale, tile, overlap)
        except RuntimeError as exc:
            if not _is_oom(exc):
                raise
            if x.is_cuda:
                torch.cuda.empty_cache()
            current = tile if tile > 0 else max(h, w)
            if current <= min_tile:
                raise
            tile = max(min_tile, (current // 2) // 16 * 16)
            if on_retry is not None:
                on_retry(tile)


def resize(x: torch.Tensor, height: int, width: int, method: str = "bicubic") -> torch.Tensor:
    if x.shape[-2:] == (height, width):
        return x
    if method == "area":
        return F.interpolate(x, size=(height, width), mode="area")
    mode = "bicubic" if method in ("bicubic", "lanczos") else method
    return F.interpolate(x, size=(height, width), mode=mode, align_corners=False, antialias=True)
