"""Super-resolution with any weights from the registry: our multi-frame model, our single-frame
model, or imported Real-ESRGAN/BasicSR weights.

A multi-frame model (its card names a ``radius``) restores each frame from the 2·radius+1 frames
around it, registered onto it by whole-pixel motion (restore.models.motion): detail one frame
lost is read from its neighbours, where the scene was really sampled. The stage then declares
that radius, so streaming, segment overlap and resume account for the neighbours it reads.
A single-frame model runs on batches of frames. On the CPU every frame goes through the network
alone, so its bits never depend on the frames batched with it (a resumed segment batches differently).

Output geometry follows the display aspect: anamorphic PAL 720×576 (4:3 or 16:9)
becomes square pixels, e.g. ``size: 1440x1080`` or ``scale: 2`` → 1536×1152 for 4:3.
When the model's own factor differs from the one asked for, its output is resized
with an antialiased filter. ``strength`` blends the model's output with a classical
Lanczos upscale: 1 is the model alone, 0 is Lanczos alone — the conservator's
control over how much the network may add.

``consistency`` holds the output to its input: brought back to the input's geometry by an area
average (each source pixel as the mean of the output pixels it covers), the output should give
the input again. A network trained on soft, noisy footage also sharpens and smooths at the
source's own scale, so the picture moves at the scale that was really recorded. Iterative back-
projection (Irani & Peleg) removes that part: ``x ← x + up(input − area(x))`` a few times,
which leaves the model's detail above the source's Nyquist limit and takes everything below it
from the source. 1 applies it fully, 0 (the default) not at all, in between blends. What the
stage's input carries it keeps, noise included: put the denoiser before it, or set
``consistency_noise``, which shrinks each back-projection step's residual where it is no larger than
the noise estimated in that frame (a Wiener gain), so the model's departures from the picture are
taken back and the noise it removed is not. It cannot tell a soft original from a blurred recording:
on broadcast-degraded footage (blur, noise, MPEG-2) it takes back the model's deblurring as well,
like exact back-projection, which is why the presets for soft recordings leave both off; the
``sharp-source`` preset, for sources the chain did not blur, turns both on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal

import cv2
import numpy as np

from restore.config import parse_size  # the one WIDTHxHEIGHT parser (also imported from here)
from restore.frame import Frame, VideoFormat
from restore.metrics import luma
from restore.pipeline.registry import register_stage
from restore.stages.base import Stage, StageError, batches, windows


@dataclass(frozen=True)
class SuperResParams:
    weights: str = "restore-sr-x2"
    scale: int | None = field(default=None, metadata={"min": 1, "max": 8})   # None: the model's own factor
    size: str | None = None              # "1440x1080": exact output size (overrides scale)
    square_pixels: bool = True           # resample anamorphic sources to square pixels
    strength: float = field(default=1.0, metadata={"min": 0.0, "max": 1.0})
    consistency: float = field(default=0.0, metadata={"min": 0.0, "max": 1.0})
    # back-project only what stands out of the input's own noise (estimated frame by frame): for a
    # clean transfer that still carries light grain or tape noise, which exact back-projection puts back
    consistency_noise: bool = False
    precision: Literal["auto", "fp32", "fp16", "bf16"] = "auto"
    tile: int = field(default=0, metadata={"min": 0})          # 0: automatic (whole frame on CPU)
    tile_overlap: int = field(default=16, metadata={"min": 0, "max": 128})


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


BACK_PROJECTIONS = 5   # ×2: the input is given back to ~70 dB; PAL 576 → 1080 lines to ~50 dB


def noise_sigma(image: np.ndarray) -> float:
    """The standard deviation of white noise in ``image`` (float, 0–1), estimated from the median of
    its finest diagonal detail (Donoho's MAD of the Haar HH band, on luma): picture edges are sparse
    there and barely move the median, noise fills every coefficient."""
    y = luma(image.astype(np.float32, copy=False))
    y = y[: y.shape[0] // 2 * 2, : y.shape[1] // 2 * 2]
    hh = (y[0::2, 0::2] - y[1::2, 0::2] - y[0::2, 1::2] + y[1::2, 1::2]) * 0.5
    return float(np.median(np.abs(hh)) / 0.6745)


def hold_to_source(image: np.ndarray, source: np.ndarray, amount: float = 1.0, noise_aware: bool = False
                   ) -> np.ndarray:
    """``image`` (an upscale of ``source``) moved so that its area downscale gives ``source`` again
    (``amount`` 1), keeping its detail finer than the source's pixels. Float RGB in, float RGB out.

    With ``noise_aware`` each step's residual is shrunk where it is no larger than the source's own
    noise (a Wiener gain 1 − σ²/local residual energy): the model's departures from the picture are
    taken back, the noise it removed is not put back."""
    if amount <= 0.0:
        return image
    h, w = source.shape[:2]
    out_h, out_w = image.shape[:2]
    held = image.astype(np.float32, copy=True)
    source = source.astype(np.float32, copy=False)
    variance = noise_sigma(source) ** 2 if noise_aware else 0.0
    for _ in range(BACK_PROJECTIONS):
        residual = source - cv2.resize(held, (w, h), interpolation=cv2.INTER_AREA)
        if variance > 0.0:
            energy = cv2.GaussianBlur(np.mean(residual * residual, axis=2), (0, 0), 1.5)
            residual *= np.clip(1.0 - variance / np.maximum(energy, 1e-12), 0.0, 1.0)[:, :, None]
        held += cv2.resize(residual, (out_w, out_h), interpolation=cv2.INTER_CUBIC)
    if amount < 1.0:
        held = image + amount * (held - image)
    return np.clip(held, 0.0, 1.0, out=held)


def model_radius(weights: str) -> int:
    """The temporal reach a model's card declares (0: a single-frame model or a file without card)."""
    from restore.models.registry import weights_facts

    return weights_facts(weights).radius


@register_stage
class SuperResolution(Stage):
    name = "superres"
    Params = SuperResParams
    resizes = True      # honours --scale/--size

    def __init__(self, params: SuperResParams, context):
        super().__init__(params, context)
        opts = context.options
        self.scale = opts.get("scale", params.scale)
        size = opts.get("size") or (parse_size(params.size) if params.size else None)
        self.size = tuple(size) if size else None
        self.model = None
        self._card = None
        self.radius = model_radius(params.weights)

    @classmethod
    def check_params(cls, params: SuperResParams):
        from restore.errors import PipelineError
        from restore.models.registry import resolve_weights

        if params.size is not None:
            try:
                parse_size(params.size)
            except ValueError as exc:
                return "size", str(exc)
        try:
            resolve_weights(params.weights)
        except PipelineError as exc:
            return "weights", str(exc)
        return None

    def _model_scale(self) -> int:
        from restore.models.registry import weights_facts

        if self.model is not None:
            return self.model.scale
        return weights_facts(self.params.weights).scale

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
        from restore.models.registry import weights_facts

        # before setup, the facts come from the card: asking does not load the model
        m = self.model if self.model is not None else weights_facts(self.params.weights)
        return [{"name": m.name, "role": "super-resolution", "sha256": m.sha256, "card_sha256": m.card_sha256,
                 "card": m.card, "scale": m.scale, "path": str(m.path)}]

    def describe(self) -> dict:
        d = super().describe()
        d["output_size"] = [self.out_w, self.out_h] if self.model is not None else None
        d["precision"] = str(getattr(self, "dtype", "")).replace("torch.", "")
        d["frames"] = 2 * self.radius + 1
        return d

    def run(self, frames):
        self.setup()
        if self.radius == 0:
            for batch in batches(frames, self.context.batch_size):
                yield from self._guarded(batch, lambda: self._restore([f.image for f in batch]), batch)
            return
        pending: list[list[Frame]] = []
        for window in windows(frames, self.radius):
            pending.append(window)
            if len(pending) >= max(1, int(self.context.batch_size)):
                yield from self._run_windows(pending)
                pending = []
        if pending:
            yield from self._run_windows(pending)

    def _run_windows(self, group: list[list[Frame]]) -> list[Frame]:
        centres = [window[self.radius] for window in group]
        return self._guarded(centres, lambda: self._restore([[f.image for f in w] for w in group]), centres)

    def _guarded(self, frames: list[Frame], work, named: list[Frame]) -> list[Frame]:
        try:
            images = work()
        except StageError:
            raise
        except Exception as exc:  # the job must stop with the stage name and frame number
            where = f" (frames {named[0].index}–{named[-1].index})" if len(named) > 1 else ""
            raise StageError(self.name, named[0].index, f"{exc}{where}") from exc
        return [frame.with_image(img) for frame, img in zip(frames, images)]

    def _restore(self, inputs: list) -> list[np.ndarray]:
        """Single-frame: a list of H×W×3 images. Multi-frame: a list of windows of them."""
        import torch

        if len(inputs) > 1 and torch.device(self.context.device).type == "cpu":
            # On the CPU a frame goes through the network alone. oneDNN picks its convolution kernels by
            # batch size, so a frame's bits would depend on which frames share its batch — and a resumed
            # segment batches differently from a whole run (measured: up to 2e-7 apart on small frames).
            # Alone is also faster here: 4 frames of 768×576 one by one 3.2–3.7 s, as one batch 4.4–4.9 s.
            return [img for item in inputs for img in self._restore([item])]
        from restore.models.motion import align_window
        from restore.pipeline.compute import auto_tile, autocast_for, resize, run_model

        device = self.context.device
        module = self.model.module
        scale = self.model.scale
        stacked = np.stack([np.stack(item) if self.radius else item for item in inputs])
        x = torch.from_numpy(np.ascontiguousarray(stacked)).to(device)
        if self.radius:
            x = x.permute(0, 1, 4, 2, 3)                                     # N, T, 3, H, W
            n, t, _, h, w = x.shape
            pad_h, pad_w = h % 2, w % 2                                      # the network folds 2×2
            if pad_h or pad_w:
                x = torch.nn.functional.pad(x.reshape(n, t * 3, h, w), (0, pad_w, 0, pad_h),
                                            mode="replicate").reshape(n, t, 3, h + pad_h, w + pad_w)
            x = align_window(x.float())
            x = x.reshape(n, t * 3, h + pad_h, w + pad_w)
        else:
            x = x.permute(0, 3, 1, 2)
            n, _, h, w = x.shape
            pad_h = pad_w = 0
        x = x.contiguous(memory_format=torch.channels_last)
        tile = self.params.tile or auto_tile(device, h, w, bytes_per_pixel=64 * 4 * scale ** 2 * n)

        def forward(part):
            with autocast_for(device, self.dtype):
                if self.radius:
                    return module(part.reshape(part.shape[0], -1, 3, *part.shape[-2:]))
                return module(part.contiguous(memory_format=torch.channels_last))

        with torch.inference_mode():
            y = run_model(forward, x, scale, tile, self.params.tile_overlap,
                          on_retry=lambda size: self.context.emit(stage=self.name, event="oom-retry", tile=size))
            y = y[..., : h * scale, : w * scale]
            y = resize(y.float(), self.out_h, self.out_w, "area" if y.shape[-2] > self.out_h else "bicubic")
            y = y.clamp_(0, 1).cpu().numpy().transpose(0, 2, 3, 1)
        out = []
        s = self.params.strength
        for item, img in zip(inputs, y):
            if s < 1.0:
                source = item[self.radius] if self.radius else item
                classical = cv2.resize(source, (self.out_w, self.out_h), interpolation=cv2.INTER_LANCZOS4)
                img = s * img + (1 - s) * np.clip(classical, 0, 1)
            if self.params.consistency > 0:
                img = hold_to_source(img, item[self.radius] if self.radius else item, self.params.consistency,
                                     self.params.consistency_noise)
            out.append(np.ascontiguousarray(img, dtype=np.float32))
        return out
