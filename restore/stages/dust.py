"""Dust and dirt (one-frame specks) removal, touching only the speck pixels.

A speck of dust or a blotch of dirt lives on one frame: the pixel is much brighter or
darker than the same point of the picture in *both* neighbouring frames, while the
neighbours agree with each other. Only such pixels (grown by one pixel for the
speck's soft rim) are replaced, by the median of the pixel and its two neighbours.

* ``mc-median`` (VapourSynth, MVTools): the neighbours are motion-compensated first,
  so specks on moving or panning picture are found too; where the compensation
  failed (the compensated neighbours disagree around the pixel) nothing is touched,
  so fast motion is not altered.
* ``median`` (numpy, no motion compensation): the same test on the uncompensated
  neighbours; in moving areas they disagree, so it only cleans still areas. It is the
  fallback when VapourSynth is absent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Literal, Optional

import numpy as np
from scipy import ndimage

from restore.frame import Frame
from restore.pipeline.registry import register_stage
from restore.stages._vapoursynth import ExternalMethodStage, vapoursynth_filter
from restore.stages.base import WindowStage

VS_METHODS = frozenset({"mc-median"})
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


@dataclass(frozen=True)
class DustParams:
    method: Literal["mc-median", "median"] = "mc-median"
    threshold: float = field(default=0.08, metadata={"min": 0.01, "max": 0.5})   # speck contrast, of full scale
    agree: float = field(default=0.04, metadata={"min": 0.005, "max": 0.5})      # max |prev − next| to trust them
    fallback: Optional[Literal["median"]] = None


def speck_mask(prev: np.ndarray, cur: np.ndarray, nxt: np.ndarray, threshold: float, agree: float) -> np.ndarray:
    """Boolean H×W: pixels of ``cur`` that differ from both neighbours the same way (luma),
    where the neighbours agree pixel by pixel and over the 7×7 area around it."""
    yp, yc, yn = prev @ _LUMA, cur @ _LUMA, nxt @ _LUMA
    dp, dn = yc - yp, yc - yn
    disagreement = np.abs(yp - yn)
    # moving picture makes the neighbours disagree around the pixel: leave it alone
    still_area = ndimage.uniform_filter(disagreement, size=7) < agree / 2
    mask = (dp * dn > 0) & (np.abs(dp) > threshold) & (np.abs(dn) > threshold) & (disagreement < agree) & still_area
    return ndimage.binary_dilation(mask, iterations=1)


@register_stage
class Dust(ExternalMethodStage, WindowStage):
    name = "dust"
    Params = DustParams
    VS_METHODS = VS_METHODS
    radius = 1

    def run(self, frames: Iterator[Frame]) -> Iterator[Frame]:
        if not self.uses_vapoursynth:
            return super().run(frames)
        job = {"op": "dust", "threshold": self.params.threshold, "agree": self.params.agree}
        return self.run_through(frames, lambda w, h: vapoursynth_filter(
            job, stage=self.name, width=w, height=h, fps=self.input_fps()))

    def process_window(self, window: list[Frame], center: int) -> Frame:
        prev, cur, nxt = (f.image for f in window)
        mask = speck_mask(prev, cur, nxt, self.params.threshold, self.params.agree)
        if not mask.any():
            return window[center]
        median = np.median(np.stack([prev, cur, nxt]), axis=0)
        image = np.where(mask[..., None], median, cur).astype(np.float32)
        out = window[center].with_image(image)
        out.notes["dust_pixels"] = int(mask.sum())
        return out
