"""Synthetic degradation that looks like the archive: HR pictures in, archive-like LR out.

A preset is a list of steps applied in order (restore.training.degradations holds the
operations). Each step has a probability and parameter ranges; ranges are drawn once per
image, or once per clip in ``degrade_clip`` (one camera, one tape, one encoder), while
dust, grain, noise and flicker change every frame.

Config (a training config's ``degradation`` section, minus ``preset``)::

    noise: {sigma: [2, 6]}       # merged into every step of that operation
    steps: [...]                 # or replace the preset's steps altogether
    match: footage.mkv           # centre the ranges on `restore analyze` of that footage
"""

from __future__ import annotations

import copy
import math
from typing import Iterable, Iterator

import numpy as np

from restore.errors import UserError
from restore.training.degradations import OPS, Context

_TO_TARGET = {"op": "resize", "to_target": True, "mode": {"choices": ["area", "bicubic", "bilinear"],
                                                          "weights": [0.5, 0.3, 0.2]}}

# Figures in low-resolution pixels and 8-bit levels (see each operation's docstring).
PRESETS: dict[str, list[dict]] = {
    # 576i studio or off-air recording: camera softness, fields, narrow chroma, MPEG-2 transfer.
    "pal-broadcast": [
        _TO_TARGET,
        {"op": "blur", "prob": 0.9, "sigma": [0.3, 1.5]},
        {"op": "interlace", "prob": 0.3, "motion": [0.5, 3.0], "blend_prob": 0.2, "blend": [0.2, 0.5]},
        {"op": "luma_bandwidth", "prob": 0.7, "cutoff": [0.6, 0.95]},
        {"op": "chroma", "prob": 1.0, "bandwidth": [0.15, 0.35], "pal_line_average_prob": 0.5,
         "subsampling": {"choices": ["420", "422"]}},
        {"op": "noise", "prob": 0.8, "sigma": [0.5, 6.0], "poisson_prob": 0.3, "poisson_scale": [0.05, 1.0],
         "gray_prob": 0.5},
        {"op": "codec", "prob": 1.0, "ffmpeg_prob": 0.3, "codec": {"choices": ["mpeg2", "h264"], "weights": [0.8, 0.2]},
         "mpeg2_qscale": [2, 10], "h264_crf": [20, 32], "jpeg_quality": [50, 95]},
    ],
    # PAL VHS dubbed to DVD: soft luma, very narrow and delayed chroma, line jitter, streaky noise.
    "pal-vhs": [
        _TO_TARGET,
        {"op": "blur", "prob": 0.9, "sigma": [0.5, 1.8]},
        {"op": "interlace", "prob": 0.3, "motion": [0.5, 3.0], "blend_prob": 0.2, "blend": [0.2, 0.5]},
        {"op": "luma_bandwidth", "prob": 1.0, "cutoff": [0.35, 0.6]},
        {"op": "chroma", "prob": 1.0, "bandwidth": [0.05, 0.12], "pal_line_average_prob": 0.8,
         "subsampling": {"choices": ["420"]}, "shift": [0.5, 2.5]},
        {"op": "vhs", "prob": 0.8, "jitter": [0.1, 0.8], "head_switch": [0, 8]},
        {"op": "noise", "prob": 1.0, "sigma": [2.0, 10.0], "streak": [0.8, 2.5], "gray_prob": 0.6},
        {"op": "codec", "prob": 1.0, "ffmpeg_prob": 0.3, "codec": {"choices": ["mpeg2"]},
         "mpeg2_qscale": [3, 14], "jpeg_quality": [40, 90]},
    ],
    # Film (often black-and-white) scanned or telecined: grain, dust, scratches, flicker.
    "film": [
        _TO_TARGET,
        {"op": "blur", "prob": 0.9, "sigma": [0.6, 2.2]},
        {"op": "gray", "prob": 0.6},
        {"op": "saturation", "prob": 0.3, "amount": [0.2, 0.9], "tint": [0.0, 1.0]},
        {"op": "flicker", "prob": 0.8, "amplitude": [0.005, 0.04], "drift": [0.0, 0.05]},
        {"op": "grain", "prob": 0.9, "amount": [1.0, 8.0], "size": [0.4, 1.2], "mono_prob": 0.7},
        {"op": "dust", "prob": 0.8, "density": [5.0, 120.0], "radius": [0.6, 2.5], "dark_prob": 0.8},
        {"op": "scratches", "prob": 0.5, "rate": [0.5, 4.0]},
        {"op": "interlace", "prob": 0.1, "motion": [0.5, 2.0], "blend_prob": 0.5, "blend": [0.2, 0.5]},
        {"op": "chroma", "prob": 0.7, "bandwidth": [0.2, 0.5], "subsampling": {"choices": ["420", "422"]}},
        {"op": "noise", "prob": 0.4, "sigma": [0.5, 3.0], "gray_prob": 0.7},
        {"op": "codec", "prob": 0.9, "ffmpeg_prob": 0.3, "codec": {"choices": ["mpeg2", "h264"]},
         "mpeg2_qscale": [2, 10], "h264_crf": [20, 32], "jpeg_quality": [50, 95]},
    ],
    # Real-ESRGAN's second-order model (Wang et al. 2021, options/train_realesrgan_x4plus.yml),
    # in high-resolution pixels until the final resize. Real-ESRGAN also swaps the last two
    # stages (JPEG before resize + sinc) half of the time; here the order is fixed.
    "realesrgan": [
        {"op": "blur", "prob": 1.0, "sigma": [0.2, 3.0], "kernel_sizes": [7, 9, 11, 13, 15, 17, 19, 21]},
        {"op": "sinc", "prob": 0.1, "omega": [math.pi / 3, math.pi]},
        {"op": "resize", "prob": 1.0, "updown_probs": [0.2, 0.7, 0.1], "up": [1.0, 1.5], "down": [0.15, 1.0]},
        {"op": "noise", "prob": 1.0, "sigma": [1.0, 30.0], "poisson_prob": 0.5, "poisson_scale": [0.05, 3.0],
         "gray_prob": 0.4},
        {"op": "jpeg", "prob": 1.0, "quality": [30, 95]},
        {"op": "blur", "prob": 0.8, "sigma": [0.2, 1.5], "kernel_sizes": [7, 9, 11, 13, 15, 17, 19, 21]},
        {"op": "sinc", "prob": 0.1, "omega": [math.pi / 3, math.pi]},
        {"op": "resize", "prob": 1.0, "updown_probs": [0.3, 0.4, 0.3], "up": [1.0, 1.2], "down": [0.3, 1.0],
         "of_target": True},
        {"op": "noise", "prob": 1.0, "sigma": [1.0, 25.0], "poisson_prob": 0.5, "poisson_scale": [0.05, 2.5],
         "gray_prob": 0.4},
        {"op": "resize", "to_target": True, "mode": {"choices": ["area", "bilinear", "bicubic"]}},
        {"op": "sinc", "prob": 0.8, "omega": [math.pi / 3, math.pi]},
        {"op": "jpeg", "prob": 1.0, "quality": [30, 95]},
    ],
}

def _variant(base: list[dict], **changes: dict) -> list[dict]:
    """A preset that differs from ``base`` only in some steps' parameters."""
    steps = copy.deepcopy(base)
    for step in steps:
        step.update(changes.get(step["op"], {}))
    return steps


# NTSC VHS: as PAL but no delay-line averaging, 4:1:1 (DV transfers) and noisier colour.
PRESETS["ntsc-vhs"] = _variant(
    PRESETS["pal-vhs"],
    chroma={"pal_line_average_prob": 0.0, "subsampling": {"choices": ["411", "420"]}, "shift": [0.5, 3.0]},
    vhs={"jitter": [0.1, 1.0]},
    noise={"sigma": [2.0, 12.0], "gray_prob": 0.3},
    codec={"codec": {"choices": ["mpeg2", "h264"]}, "h264_crf": [22, 36]},
)
PRESET_ALIASES = {"vhs": "pal-vhs"}
BATCHED_OPS = {"codec"}  # operations that serve a whole batch at once (one ffmpeg run)


def preset_steps(name: str) -> list[dict]:
    key = PRESET_ALIASES.get(name, name)
    if key not in PRESETS:
        known = ", ".join(sorted(PRESETS) + sorted(PRESET_ALIASES))
        raise UserError(f"unknown degradation preset {name!r}: choose one of {known}")
    return copy.deepcopy(PRESETS[key])


def _quantise(image: np.ndarray) -> np.ndarray:
    # archive frames are 8-bit: the model must learn from 8-bit inputs
    return (np.round(np.clip(image, 0, 1) * 255.0) / 255.0).astype(np.float32)


class DegradationModel:
    """HR float32 RGB in [0, 1] → archive-like LR (H/scale × W/scale)."""

    def __init__(self, config: dict | None = None, preset: str = "pal-vhs"):
        config = copy.deepcopy(dict(config or {}))
        self.preset = config.pop("preset", preset)
        steps = config.pop("steps", None)
        self.steps = [dict(s) for s in steps] if steps is not None else preset_steps(self.preset)
        self.fps = float(config.pop("fps", 25.0))
        match = config.pop("match", None)
        for op, params in config.items():
            self._override(op, params)
        self._validate()
        self.matched: dict | None = None
        if match:
            from restore.training.analyze import analyze_footage
            self.centre_on(analyze_footage(match))

    # -- configuration -------------------------------------------------------------------
    def _override(self, op: str, params) -> None:
        if op not in OPS:
            raise UserError(f"degradation config: unknown operation {op!r} (known: {', '.join(sorted(OPS))})")
        if not isinstance(params, dict):
            raise UserError(f"degradation config: {op} must be a mapping of parameters")
        targets = [s for s in self.steps if s["op"] == op]
        if not targets:
            raise UserError(f"degradation config: preset {self.preset!r} has no {op} step (add it under steps:)")
        for step in targets:
            step.update(copy.deepcopy(params))

    def _validate(self) -> None:
        for i, step in enumerate(self.steps):
            if step.get("op") not in OPS:
                raise UserError(f"degradation step {i}: unknown operation {step.get('op')!r}")
            prob = step.get("prob", 1.0)
            if not (isinstance(prob, (int, float)) and 0 <= prob <= 1):
                raise UserError(f"degradation step {i} ({step['op']}): prob must lie in [0, 1]")

    def describe(self) -> dict:
        return {"preset": self.preset, "steps": copy.deepcopy(self.steps), "matched": self.matched}

    # -- running -------------------------------------------------------------------------
    @staticmethod
    def _target(image: np.ndarray, scale: int) -> tuple[int, int]:
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected H×W×3 RGB, got shape {image.shape}")
        if scale < 1 or image.shape[0] // scale < 4 or image.shape[1] // scale < 4:
            raise ValueError(f"image {image.shape[1]}x{image.shape[0]} is too small for scale {scale}")
        return image.shape[1] // scale, image.shape[0] // scale

    def _apply(self, index: int, images: list[np.ndarray], ctx: Context) -> list[np.ndarray]:
        step = self.steps[index]
        ctx.local = ctx.state.setdefault(("step", index), {})
        if not ctx.once("__active__", lambda: ctx.rng.random() < step.get("prob", 1.0)):
            return images
        return OPS[step["op"]](images, step, ctx)

    def _finish(self, image: np.ndarray, target: tuple[int, int]) -> np.ndarray:
        if (image.shape[1], image.shape[0]) != target:
            from restore.training.degradations.optics import resize_to
            image = resize_to(image, *target, "area")
        return _quantise(image)

    def degrade(self, image_hr: np.ndarray, rng: np.random.Generator, scale: int) -> np.ndarray:
        return self.degrade_batch([image_hr], rng, scale)[0]

    def degrade_batch(self, images_hr: list[np.ndarray], rng: np.random.Generator, scale: int) -> list[np.ndarray]:
        """Independent pictures (training patches), each with its own draw of every range,
        except that a video codec step encodes all of them as one small clip (one ffmpeg run)."""
        targets = [self._target(np.asarray(img), scale) for img in images_hr]
        contexts = [Context(rng=rng, fps=self.fps, state={"target_size": t}) for t in targets]
        images = [np.asarray(img, dtype=np.float32) for img in images_hr]
        shared = Context(rng=rng, fps=self.fps, state={})
        for index, step in enumerate(self.steps):
            same_size = len({img.shape for img in images}) == 1
            if step["op"] in BATCHED_OPS and same_size and len(images) > 1:
                shared.state["target_size"] = targets[0]
                images = self._apply(index, images, shared)
            else:
                images = [self._apply(index, [img], ctx)[0] for img, ctx in zip(images, contexts)]
        return [self._finish(img, t) for img, t in zip(images, targets)]

    def degrade_clip(self, frames: Iterable[np.ndarray], rng: np.random.Generator, scale: int,
                     chunk: int = 12) -> Iterator[np.ndarray]:
        """Consecutive frames: one draw of the ranges for the whole clip, temporal state carried
        from frame to frame (flicker level, live scratches, the previous field). Frames are
        processed ``chunk`` at a time (one GOP for the codec step), so memory stays bounded."""
        ctx = Context(rng=rng, clip=True, fps=self.fps, state={})
        buffer: list[np.ndarray] = []
        for frame in frames:
            image = np.asarray(getattr(frame, "image", frame), dtype=np.float32)
            target = self._target(image, scale)
            ctx.state.setdefault("target_size", target)
            if target != ctx.state["target_size"]:
                raise ValueError("all frames of a clip must have the same size")
            buffer.append(image)
            if len(buffer) == chunk:
                yield from self._clip_chunk(buffer, ctx)
                buffer = []
        if buffer:
            yield from self._clip_chunk(buffer, ctx)

    def _clip_chunk(self, images: list[np.ndarray], ctx: Context) -> list[np.ndarray]:
        for index in range(len(self.steps)):
            images = self._apply(index, images, ctx)
        return [self._finish(img, ctx.state["target_size"]) for img in images]

    # -- matching real footage -----------------------------------------------------------
    @classmethod
    def from_analysis(cls, stats: dict, preset: str | None = None, config: dict | None = None) -> "DegradationModel":
        """A model whose ranges are centred on ``restore analyze`` figures of real footage."""
        model = cls(config=config, preset=preset or suggest_preset(stats))
        model.centre_on(stats)
        return model

    def centre_on(self, stats: dict) -> None:
        from restore.training.degradations.match import centre_steps

        self.steps = centre_steps(self.steps, stats)
        self.matched = {k: stats.get(k) for k in ("source", "noise_sigma", "edge_width_px", "blockiness",
                                                  "interlace", "flicker", "dust_per_mpx")}


def suggest_preset(stats: dict) -> str:
    """The preset whose kind of damage the figures show."""
    if (stats.get("dust_per_mpx") or 0) > 5 or (stats.get("flicker") or 0) > 0.01:
        return "film"
    if stats.get("field_order") in ("tt", "bb", "tb", "bt") or (stats.get("interlace") or 0) > 0.9:
        return "pal-broadcast"
    return "pal-broadcast"
