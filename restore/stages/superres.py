"""GAN super-resolution with any weights from the registry (ours or imported Real-ESRGAN/BasicSR).

Output geometry follows the display aspect: anamorphic PAL 720×576 (4:3 or 16:9)
becomes square pixels, e.g. ``size: 1440x1080`` or ``scale: 2`` → 1536×1152 for 4:3.
When the model's own factor differs from the one asked for, its output is resized
with an antialiased filter. ``strength`` blends the model's output with a classical
Lanczos upscale: 1 is the model alone, 0 is Lanczos alone — the conservator's
control over how much the network may add.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal

import cv2
import numpy as np

from restore.frame import Frame, VideoFormat
from restore.pipeline.registry import register_stage
from restore.stages.base import FrameStage


@dataclass(frozen=True)
class SuperResParams:
    weights: str = "restore-sr-x2"
    scale: int | None = field(default=None, metadata={"min": 1, "max": 8})   # None: the model's own factor
    size: str | None = None              # "1440x1080": exact output size (overrides scale)
    square_pixels: bool = True           # resample anamorphic sources to square pixels
    strength: float = field(default=1.0, metadata={"min": 0.0, "max": 1.0})
    precision: Literal["auto", "fp32", "fp16", "bf16"] = "auto"
    tile: int = field(default=0, metadata={"min": 0})          # 0: automatic (whole frame on CPU)
    tile_overlap: int = field(default=16, metadata={"min": 0, "max": 128})


def parse_size(text: str) -> tuple[int, int]:
    w, _, h = text.lower().partition("x")
    return int(w), int(h)


def target_geometry(fmt: VideoFormat, model_scale: int, scale: int | None, size: tuple[int, int] | None,
                    square_pixels: bool) -> tuple[int, int, Fraction]:
    """(width, height, sar) of the output."""
    if size is not None:
        w, h = size
        sar = Fraction(1) if square_pixels else fmt.sar
        if not square_pixels:
            return w, h, sar
        # the display aspect decides the pixel aspect of an exact size: 1440×1080 of 4:3 → square
        sar = (fmt.dar / Fraction(w, h)).limit_denominator(1000)
        return w, h, sar
    factor = scale or model_scale
    h = fmt.height * factor
    if square_pixels and fmt.sar != 1:
        w = int(round(h * fmt.dar / 2)) * 2
        return w, h, Fraction(1)
    return fmt.width * factor, h, fmt.sar


@register_stage
class SuperResolution(FrameStage):
    name = "superres"
    Params = SuperResParams

    def __init__(self, params: SuperResParams, context):
        super().__init__(params, context)
        opts = context.options
        self.scale = opts.get("scale", params.scale)
        size = opts.get("size") or (parse_size(params.size) if params.size else None)
        self.size = tuple(size) if size else None
        self.model = None
        self._card = None

    @classmethod
    def check_params(cls, params: SuperResParams):
        from restore.errors import PipelineError
        from restore.models.registry import resolve_weights

        if params.size is not None:
            try:
                w, h = parse_size(params.size)
                assert w > 1 and h > 1
            except (ValueError, AssertionError):
                return "size", f"must be WIDTHxHEIGHT like 1440x1080, got {params.size!r}"
        try:
            resolve_weights(params.weights)
        except PipelineError as exc:
            return "weights", str(exc)
        return None

    def _model_scale(self) -> int:
        from restore.models.cards import read_card, card_path
        from restore.models.registry import resolve_weights

        path = resolve_weights(self.params.weights)
        if card_path(path).is_file():
            return int(read_card(card_path(path))["scale"])
        self.setup()
        return self.model.scale

    def output_format(self, fmt: VideoFormat) -> VideoFormat:
        w, h, sar = target_geometry(fmt, self._model_scale(), self.scale, self.size, self.params.square_pixels)
        return fmt.replace(width=w, height=h, sar=sar)

    def setup(self) -> None:
        if self.model is not None:
            return
        import torch

        from restore.models.registry import load_model
        from restore.pipeline.compute import choose_precision

        self.model = load_model(self.params.weights, device=self.context.device)
        self.model.module.to(memory_format=torch.channels_last)
        self.dtype = choose_precision(self.params.precision, self.context.device)
        fmt = self.context.input_format
        self.out_w, self.out_h, _ = target_geometry(fmt, self.model.scale, self.scale, self.size,
                                                   self.params.square_pixels)

    def models(self) -> list[dict]:
        if self.model is None:
            self.setup()
        m = self.model
        return [{"name": m.name, "role": "super-resolution", "sha256": m.sha256, "card_sha256": m.card_sha256,
                 "card": m.card, "scale": m.scale, "path": str(m.path)}]

    def describe(self) -> dict:
        d = super().describe()
        d["output_size"] = [self.out_w, self.out_h] if self.model is not None else None
        d["precision"] = str(getattr(self, "dtype", "")).replace("torch.", "")
        return d

    def process_batch(self, frames: list[Frame]) -> list[Frame]:
        import torch

        from restore.pipeline.compute import auto_tile, autocast_for, resize, run_model

        device = self.context.device
        module = self.model.module
        batch = np.stack([f.image for f in frames]).transpose(0, 3, 1, 2)
        x = torch.from_numpy(np.ascontiguousarray(batch)).to(device).contiguous(memory_format=torch.channels_last)
        h, w = x.shape[-2:]
        tile = self.params.tile or auto_tile(device, h, w, bytes_per_pixel=64 * 4 * self.model.scale ** 2 * len(frames))

        def forward(t):
            with autocast_for(device, self.dtype):
                return module(t.contiguous(memory_format=torch.channels_last))

        with torch.inference_mode():
            y = run_model(forward, x, self.model.scale, tile, self.params.tile_overlap,
                          on_retry=lambda t: self.context.emit(stage=self.name, event="oom-retry", tile=t))
            y = resize(y.float(), self.out_h, self.out_w, "area" if y.shape[-2] > self.out_h else "bicubic")
            y = y.clamp_(0, 1).cpu().numpy().transpose(0, 2, 3, 1)
        out = []
        s = self.params.strength
        for frame, img in zip(frames, y):
            if s < 1.0:
                classical = cv2.resize(frame.image, (self.out_w, self.out_h), interpolation=cv2.INTER_LANCZOS4)
                img = s * img + (1 - s) * np.clip(classical, 0, 1)
            out.append(frame.with_image(np.ascontiguousarray(img, dtype=np.float32)))
        return out
