"""Vertical line scratches (film run through a dirty gate), repaired pixel by pixel.

A scratch is a thin line (1–3 pixels) that is brighter or darker than the picture on
*both* sides, by about the same amount, over a long run of rows. That symmetry test
is what keeps the vertical edges of the picture itself — a shutter or frame-line
edge, a door frame — untouched: at an edge one side differs and the other does not.
Only the scratch pixels are replaced, by interpolation from the columns beside them.

* ``columns``   — the test above in numpy (default: no VapourSynth needed, and on
  our synthetic bench it finds both polarities and 1-px lines, which the DeScratch
  build from PyPI misses: see benchmarks/bench_dust.py);
* ``descratch`` — the DeScratch plugin (VapourSynth), on luma.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Literal, Optional

import numpy as np
from scipy import ndimage

from restore.frame import Frame
from restore.pipeline.registry import register_stage
from restore.stages._vapoursynth import ExternalMethodStage, vapoursynth_filter
from restore.stages.base import FrameStage

VS_METHODS = frozenset({"descratch"})
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


@dataclass(frozen=True)
class ScratchesParams:
    method: Literal["columns", "descratch"] = "columns"
    threshold: float = field(default=0.03, metadata={"min": 0.005, "max": 0.5})    # contrast to both sides
    asymmetry: float = field(default=0.1, metadata={"min": 0.0, "max": 0.5})      # max |left − right| contrast
    max_width: int = field(default=3, metadata={"min": 1, "max": 15})              # pixels
    min_length: float = field(default=0.5, metadata={"min": 0.05, "max": 1.0})     # share of the frame height
    border: int = field(default=8, metadata={"min": 0, "max": 64})                 # columns left alone at the sides
    fallback: Optional[Literal["columns"]] = None


def scratch_mask(image: np.ndarray, p: ScratchesParams) -> np.ndarray:
    """Boolean H×W mask of scratch pixels (the ``columns`` method's detector)."""
    y = image @ _LUMA
    h, w = y.shape
    gap = p.max_width // 2 + 1          # sample the picture just outside a scratch of max_width
    pad = np.pad(y, ((0, 0), (gap, gap)), mode="edge")
    left, right = pad[:, :w], pad[:, 2 * gap:]
    dl, dr = y - left, y - right
    line = (dl * dr > 0) & (np.minimum(np.abs(dl), np.abs(dr)) > p.threshold) \
        & (np.abs(dl - dr) <= p.asymmetry)
    # a scratch is long: keep columns where the line test holds on enough rows
    # (allowing short gaps where the scratch crosses matching picture)
    closed = ndimage.binary_closing(line, structure=np.ones((9, 1), bool))
    long_columns = closed.mean(axis=0) >= p.min_length
    if p.border:
        long_columns[:p.border] = long_columns[-p.border:] = False
    mask = closed & long_columns[None, :]
    # thin lines only: drop runs wider than max_width
    labels, count = ndimage.label(long_columns)
    for run in ndimage.find_objects(labels):
        if run[0].stop - run[0].start > p.max_width:
            mask[:, run[0]] = False
    return mask


def repair_columns(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Replace masked pixels by linear interpolation between the nearest clean pixels on the row."""
    out = image.copy()
    h, w = mask.shape
    cols = np.arange(w)
    for row in np.nonzero(mask.any(axis=1))[0]:
        bad = mask[row]
        good = ~bad
        if good.sum() < 2:
            continue
        for c in range(image.shape[2]):
            out[row, bad, c] = np.interp(cols[bad], cols[good], image[row, good, c])
    return out


@register_stage
class Scratches(ExternalMethodStage, FrameStage):
    name = "scratches"
    Params = ScratchesParams
    VS_METHODS = VS_METHODS

    def run(self, frames: Iterator[Frame]) -> Iterator[Frame]:
        if not self.uses_vapoursynth:
            return super().run(frames)
        return self.run_through(frames, lambda w, h: vapoursynth_filter(
            {"op": "scratches", "args": self.descratch_args(w, h)}, stage=self.name, width=w, height=h,
            fps=self.input_fps()))

    def descratch_args(self, width: int, height: int) -> dict:
        """DeScratch's own arguments (8-bit units) for our parameters."""
        p = self.params
        return {"mindif": max(1, round(p.threshold * 255)), "asym": round(p.asymmetry * 255),
                "maxwidth": p.max_width | 1, "minlen": max(1, round(p.min_length * height)),
                "left": p.border, "right": max(p.border, width - p.border)}

    def process(self, frame: Frame) -> Frame:
        mask = scratch_mask(frame.image, self.params)
        if not mask.any():
            return frame
        out = frame.with_image(repair_columns(frame.image, mask))
        out.notes["scratch_pixels"] = int(mask.sum())
        return out
