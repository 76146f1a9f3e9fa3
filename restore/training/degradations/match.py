"""Centre a preset's ranges on the figures ``restore analyze`` measured on real footage.

``centre_steps`` maps each figure to the parameter that causes it, using the analysis
code's measured response to each parameter (on area-downscaled corpus pictures, see
benchmarks/bench_degradation_match.py, which also checks where the synthetic figures land).
An iterative correction (degrade, measure, adjust) was tried and dropped: on 16 synthetic
frames the figures are too noisy for it to beat the direct mapping (mean distance 0.11–0.20
against 0.06–0.15).
"""

from __future__ import annotations

import copy
import math

import numpy as np

SPREAD = 0.25                 # ranges are centre × (1 ± SPREAD): near the footage, not a point
DOWNSCALE_EDGE_PX = 0.35      # edge σ of a clean area-downscaled picture (measured: 0.32)
# `blockiness` of 24 area-downscaled 96 px patches of corpora/general (clean: 1.02) after
# JPEG at these qualities, and after MPEG-2 intra at these qscales (measured, one run)
_BLOCKINESS_TO_JPEG = ([1.07, 1.17, 1.28, 1.40, 1.60], [95, 85, 70, 50, 30])
_BLOCKINESS_TO_QSCALE = ([1.14, 1.29, 1.52, 1.75, 1.89], [2, 4, 7, 11, 16])
# what the analysis reads of the film chain's own settings (benchmarks/bench_degradation_match.py):
# edge σ ≈ 0.65 × the blur σ (grain sharpens the fine-scale gradient), and 0.38 of the drawn
# specks are found on photographs (1-px specks and specks on texture are missed; more are
# found on smooth pictures)
EDGE_PER_BLUR = 0.65
DUST_FOUND = 0.38
CLEAN_COLOURFULNESS = 30.0    # `colourfulness` of a typical colour photo of the corpus (30–36)
INTERLACED_SCORE = 0.8        # `interlace` above this: combing is present
BW_COLOURFULNESS = 1.5        # `colourfulness` below this: black-and-white


def _around(value: float, low: float = 0.0, high: float = math.inf) -> list[float]:
    return [float(np.clip(value * (1 - SPREAD), low, high)), float(np.clip(value * (1 + SPREAD), low, high))]


def _steps_of(steps: list[dict], op: str) -> list[dict]:
    return [s for s in steps if s["op"] == op]


def _set(steps: list[dict], op: str, **params) -> None:
    for step in _steps_of(steps, op):
        step.update(params)


def centre_steps(steps: list[dict], stats: dict) -> list[dict]:
    """A copy of ``steps`` whose ranges are centred on ``stats`` (figures that are None are left alone)."""
    steps = copy.deepcopy(steps)
    edge = stats.get("edge_width_px")
    if edge is not None:
        sigma = math.sqrt(max(edge * edge - DOWNSCALE_EDGE_PX ** 2, 0.04)) / EDGE_PER_BLUR
        _set(steps, "blur", prob=1.0, sigma=_around(sigma, 0.1), kernels=["iso"], kernel_probs=[1.0])
        # the line low-pass blurs too: keep it mild so the blur step carries the softness
        _set(steps, "luma_bandwidth", cutoff=[0.85, 1.0])
    noise = stats.get("noise_sigma")
    if noise is not None:
        _set(steps, "noise", prob=1.0 if noise > 0.3 else 0.0, sigma=_around(noise, 0.0), poisson_prob=0.0, streak=0.0)
        # grain is correlated: the Laplacian estimator sees about half of it
        _set(steps, "grain", amount=_around(max(noise, 0.2) * 2.0, 0.0))
    block = stats.get("blockiness")
    if block is not None:
        quality = float(np.interp(block, *_BLOCKINESS_TO_JPEG))
        qscale = float(np.interp(block, *_BLOCKINESS_TO_QSCALE))
        # below MPEG-2's mildest blocking only the JPEG path can be that clean
        ffmpeg_prob = 0.3 if block >= _BLOCKINESS_TO_QSCALE[0][0] else 0.0
        _set(steps, "codec", prob=1.0, ffmpeg_prob=ffmpeg_prob, jpeg_quality=_around(quality, 10, 98),
             mpeg2_qscale=_around(qscale, 2, 31), h264_crf=_around(18 + qscale * 1.2, 15, 45))
        _set(steps, "jpeg", prob=1.0, quality=_around(quality, 10, 98))
    interlace = stats.get("interlace")
    if interlace is not None or stats.get("field_order"):
        interlaced = (interlace or 0) > INTERLACED_SCORE or stats.get("field_order") in ("tt", "bb", "tb", "bt")
        _set(steps, "interlace", prob=1.0 if interlaced else 0.0)
    flicker = stats.get("flicker")
    if flicker is not None:
        # the residual from a 5-frame running median reads ~0.9× the gain's deviation (the median
        # follows the frame a little; simulated: 0.84 on 12 frames, 0.91 on 60, 0.94 on 500)
        _set(steps, "flicker", prob=1.0 if flicker > 0.002 else 0.0, amplitude=_around(flicker / 0.9, 0.0))
    dust = stats.get("dust_per_mpx")
    if dust is not None:
        _set(steps, "dust", prob=1.0 if dust > 0.5 else 0.0, density=_around(dust / DUST_FOUND, 0.0))
    colour = stats.get("colourfulness")
    if colour is not None:
        black_and_white = colour < BW_COLOURFULNESS
        _set(steps, "gray", prob=1.0 if black_and_white else 0.0)
        faded = min(colour / CLEAN_COLOURFULNESS, 1.0)
        # a tint would add colour the figure did not see
        _set(steps, "saturation", prob=0.0 if black_and_white else 1.0, amount=_around(faded, 0.0, 1.0), tint=0.0)
    return steps


def measure(model, hr_frames: list[np.ndarray], rng: np.random.Generator, scale: int) -> dict:
    """Figures of the model's output on a clip made of ``hr_frames`` (consecutive frames)."""
    from restore.training.analyze import analyze_frames

    return analyze_frames(model.degrade_clip(iter(hr_frames), rng, scale), consecutive=True)


# A floor per figure so that a near-zero real figure does not blow a relative distance up.
DISTANCE_FLOORS = {"noise_sigma": 0.5, "edge_width_px": 0.2, "blockiness": 0.05, "flicker": 0.005,
                   "dust_per_mpx": 10.0, "colourfulness": 2.0}


def figure_distance(stats: dict, real: dict) -> float:
    """Mean over the figures both sides have of |synthetic − real| / (|real| + floor)."""
    terms = [abs(stats[k] - real[k]) / (abs(real[k]) + floor) for k, floor in DISTANCE_FLOORS.items()
             if stats.get(k) is not None and real.get(k) is not None]
    return round(float(np.mean(terms)), 3) if terms else float("nan")


def panned_clip(image: np.ndarray, frames: int = 12, height: int = 640, width: int = 960) -> list[np.ndarray]:
    """Consecutive HR frames from one still: a slow pan (1 px down, 2 px right per frame), so
    temporal figures (dust, flicker) can be measured on synthetic footage."""
    h, w = image.shape[:2]
    height, width = min(height, h - frames - 1), min(width, w - 2 * frames - 1)
    if height < 64 or width < 64:
        raise ValueError(f"picture {w}x{h} is too small for a {frames}-frame pan")
    return [image[i:i + height, 2 * i:2 * i + width] for i in range(frames)]


def synthetic_vs_real(real: dict, hr_frames: list[np.ndarray], preset: str = "film", scale: int = 2,
                      seed: int = 0) -> dict:
    """Figures of synthetic clips from the plain preset and from the preset centred on ``real``."""
    from restore.training.degrade import DegradationModel

    plain = measure(DegradationModel(preset=preset), hr_frames, np.random.default_rng(seed), scale)
    matched_model = DegradationModel.from_analysis(real, preset=preset)
    matched = measure(matched_model, hr_frames, np.random.default_rng(seed), scale)
    return {"preset": preset, "scale": scale, "frames": len(hr_frames),
            "plain": plain, "matched": matched,
            "distance": {"plain": figure_distance(plain, real), "matched": figure_distance(matched, real)}}
