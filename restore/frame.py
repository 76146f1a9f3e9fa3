"""The one type every room agrees on: a frame of video and the facts of its stream.

Stages see frames as float32 RGB in [0, 1] (``Frame.image``, H×W×3). Pass-through
runs carry the decoder's native bytes instead (``Frame.raw``) so that a pipeline
with no stage is bit-exact in decoded frames.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from dataclasses import field as _field
from fractions import Fraction
from typing import Any

import numpy as np


@dataclass(frozen=True)
class VideoFormat:
    """Geometry, timing and signalling of a video stream (what must survive a run)."""

    width: int
    height: int
    fps: Fraction                      # nominal frame rate (r_frame_rate), exact
    sar: Fraction = Fraction(1)        # sample (pixel) aspect ratio
    pix_fmt: str = "yuv420p"           # the source's pixel format
    bit_depth: int = 8
    field_order: str = "progressive"   # progressive | tt | bb | tb | bt | unknown
    color_primaries: str | None = None
    color_trc: str | None = None
    colorspace: str | None = None
    color_range: str | None = None     # tv | pc

    @property
    def interlaced(self) -> bool:
        return self.field_order in ("tt", "bb", "tb", "bt")

    @property
    def top_field_first(self) -> bool:
        # ffmpeg writes "tb" for top-field-first interlaced material it encodes
        return self.field_order in ("tt", "tb")

    @property
    def dar(self) -> Fraction:
        return Fraction(self.width, self.height) * self.sar

    def replace(self, **changes: Any) -> "VideoFormat":
        return dataclasses.replace(self, **changes)


@dataclass
class Frame:
    """One picture: its position in the source and its pixels.

    ``index`` counts output frames of the stage that produced it; ``source_index``
    is the input frame it came from (for field-rate output, two frames share one).
    """

    index: int
    pts: Fraction                       # presentation time in seconds from stream start
    image: np.ndarray | None = None     # float32 H×W×3 RGB in [0, 1]
    raw: bytes | None = None            # native decoded bytes (pass-through only)
    source_index: int | None = None
    field: str | None = None            # "top"/"bottom" when made from one field
    notes: dict[str, Any] = _field(default_factory=dict)  # per-frame facts stages report (faces, scores)

    def __post_init__(self) -> None:
        if self.source_index is None:
            self.source_index = self.index

    @property
    def rgb(self) -> np.ndarray:
        """The pixels (``image``); a pass-through frame, which carries the decoder's samples only, has none."""
        if self.image is None:
            raise ValueError(f"frame {self.index} carries native samples, not RGB pixels")
        return self.image

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    def with_image(self, image: np.ndarray, **changes: Any) -> "Frame":
        """A copy carrying new pixels (stages never mutate the frame they were given)."""
        return dataclasses.replace(self, image=image, raw=None, notes=dict(self.notes), **changes)
