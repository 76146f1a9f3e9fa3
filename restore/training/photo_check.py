"""Is a picture a photograph? An automatic first pass that needs no eyes.

Renders, vector art, gradients and logos differ from camera images in ways that are cheap to
measure: large areas where neighbouring pixels are exactly equal (a camera's noise never gives
that), few distinct colours, and transparency (a cut-out or an icon). The pass is deliberately
conservative: it rejects what is clearly not a photograph and leaves the subtle cases (a painting,
a 3-D render with noise, a screenshot with a photo in it) to a manual list kept beside the corpus.

The statistics are measured on a copy reduced by an integer box factor so that the long side is at
most ``WORK_SIDE`` px: fast on a 6000 px photograph, and comparable between a 4K wallpaper and a
600 px theme picture.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

WORK_SIDE = 1600
MIN_SHORT_SIDE = 400            # below this a 320 px training crop barely fits
MAX_FLAT_FRACTION = 0.60        # photos with a clean sky reach ~0.5; flat-shaded art is above 0.7
MIN_COLOUR_FRACTION = 0.01      # distinct colours per sampled pixel; vector art and gradients ~0.001
MIN_GREY_LEVELS = 160           # a grey photograph still uses most of the 256 levels
MAX_TRANSPARENT_FRACTION = 0.01


@dataclass(frozen=True)
class PhotoStats:
    width: int
    height: int
    transparent_fraction: float   # pixels with alpha < 250
    flat_fraction: float          # pixels whose right and lower luma neighbours are exactly equal to them
    colour_fraction: float        # distinct RGB colours / pixels, on every other pixel of the working copy
    grey: bool                    # the three channels are equal (a black-and-white photograph)
    grey_levels: int              # distinct luma values


def measure(path: Path) -> PhotoStats:
    from PIL import Image

    with Image.open(path) as img:
        width, height = img.size
        has_alpha = "A" in img.mode or "transparency" in img.info
        factor = max(1, -(-max(width, height) // WORK_SIDE))
        if img.format == "JPEG" and factor > 1:
            img.draft("RGB", (width // factor, height // factor))  # DCT scaling: decodes far less
        work = img.convert("RGBA" if has_alpha else "RGB")
    factor = max(1, -(-max(work.size) // WORK_SIDE))
    if factor > 1:
        work = work.reduce(factor)
    pixels = np.asarray(work)
    transparent = float((pixels[..., 3] < 250).mean()) if has_alpha else 0.0
    rgb = pixels[..., :3].astype(np.int32)
    luma = (rgb @ np.array([299, 587, 114])) // 1000
    flat = (luma[:-1, :-1] == luma[:-1, 1:]) & (luma[:-1, :-1] == luma[1:, :-1])
    sample = rgb[::2, ::2].reshape(-1, 3)
    colours = np.unique(sample[:, 0] << 16 | sample[:, 1] << 8 | sample[:, 2]).size
    grey = bool((rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all())
    return PhotoStats(width=width, height=height, transparent_fraction=transparent,
                      flat_fraction=float(flat.mean()) if flat.size else 1.0, colour_fraction=colours / len(sample), grey=grey,
                      grey_levels=int(np.unique(luma).size))


def rejection(stats: PhotoStats, min_short_side: int = MIN_SHORT_SIDE) -> str | None:
    """Why the picture is not taken as a photograph, or None when it passes."""
    if min(stats.width, stats.height) < min_short_side:
        return f"too small: {stats.width}x{stats.height}, shorter side under {min_short_side} px"
    if stats.transparent_fraction > MAX_TRANSPARENT_FRACTION:
        return f"transparent: {stats.transparent_fraction:.0%} of pixels (a cut-out, icon or overlay)"
    if stats.flat_fraction > MAX_FLAT_FRACTION:
        return f"flat: {stats.flat_fraction:.0%} of pixels equal their neighbours (graphics or a gradient)"
    if stats.grey:
        if stats.grey_levels < MIN_GREY_LEVELS:
            return f"few grey levels: {stats.grey_levels} (graphics)"
    elif stats.colour_fraction < MIN_COLOUR_FRACTION:
        return f"few colours: {stats.colour_fraction:.4f} per pixel (graphics or a duotone)"
    return None
