"""Crop: find the black borders (letterbox, pillarbox, the ragged edges of a tape's
head-switching and overscan) and remove them, the same crop for the whole clip.

The borders are measured on the first ``probe_frames`` frames (held back, then
released), as the largest rectangle that is not near-black in any of them. The
crop keeps even sizes so the output stays encodable in 4:2:0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from restore.frame import VideoFormat
from restore.metrics import luma
from restore.pipeline.registry import register_stage
from restore.stages.base import Stage


@dataclass(frozen=True)
class CropParams:
    box: str | None = None               # "x,y,w,h": a fixed crop (skips detection)
    probe_frames: int = field(default=10, metadata={"min": 1, "max": 100})
    black_level: float = field(default=0.06, metadata={"min": 0.0, "max": 0.3})
    max_crop: float = field(default=0.25, metadata={"min": 0.0, "max": 0.45})  # per side, fraction of the size


def detect_borders(images: list[np.ndarray], black_level: float, max_crop: float) -> tuple[int, int, int, int]:
    """(x, y, w, h) of the picture inside near-black borders common to all ``images``."""
    h, w = images[0].shape[:2]
    bright = np.zeros((h, w), bool)
    for img in images:
        bright |= luma(img) > black_level
    rows = np.where(bright.mean(axis=1) > 0.02)[0]
    cols = np.where(bright.mean(axis=0) > 0.02)[0]
    if rows.size == 0 or cols.size == 0:
        return 0, 0, w, h
    y0, y1 = rows[0], rows[-1] + 1
    x0, x1 = cols[0], cols[-1] + 1
    y0, x0 = min(y0, int(h * max_crop)), min(x0, int(w * max_crop))
    y1, x1 = max(y1, h - int(h * max_crop)), max(x1, w - int(w * max_crop))
    x0, y0 = x0 + (x0 % 2), y0 + (y0 % 2)
    cw, ch = (x1 - x0) // 2 * 2, (y1 - y0) // 2 * 2
    return int(x0), int(y0), int(cw), int(ch)


@register_stage
class Crop(Stage):
    name = "crop"
    Params = CropParams

    def __init__(self, params: CropParams, context):
        super().__init__(params, context)
        self.box: tuple[int, int, int, int] | None = None
        if params.box:
            self.box = tuple(int(v) for v in params.box.split(","))

    @classmethod
    def check_params(cls, params: CropParams):
        if params.box is not None:
            parts = params.box.split(",")
            if len(parts) != 4 or not all(p.strip().isdigit() for p in parts):
                return "box", f"must be 'x,y,width,height' in pixels, got {params.box!r}"
        return None

    @classmethod
    def preview_frames(cls, params: CropParams) -> int:
        return 0 if params.box else params.probe_frames

    def output_format(self, fmt: VideoFormat) -> VideoFormat:
        if self.box is None:
            # the encoder needs the size before the first frame: detect on the job's preview frames
            preview = self.context.preview
            if not preview:
                from restore.errors import PipelineError

                raise PipelineError("crop: automatic border detection needs the clip's first frames, which "
                                    "segmented runs (batch, --resume) do not decode up front: give box: x,y,w,h")
            self.box = detect_borders(preview[: self.params.probe_frames], self.params.black_level,
                                      self.params.max_crop)
        x, y, w, h = self.box
        if x + w > fmt.width or y + h > fmt.height:
            raise ValueError(f"crop box {self.box} is outside the {fmt.width}x{fmt.height} frame")
        return fmt.replace(width=w, height=h)

    def describe(self) -> dict:
        return {**super().describe(), "box": list(self.box) if self.box else None}

    def run(self, frames):
        x, y, w, h = self.box
        for frame in frames:
            yield frame.with_image(np.ascontiguousarray(frame.image[y:y + h, x:x + w]))
