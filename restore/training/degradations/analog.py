"""What analogue video does to a picture: fields, colour-difference bandwidth, tape timing.

Bandwidths are fractions of the horizontal Nyquist frequency of the image the step sees.
For 720-sample SD lines (13.5 MHz sampling, Nyquist 6.75 MHz): PAL luma ~5 MHz ≈ 0.75,
PAL chroma ~1.3 MHz ≈ 0.2; VHS luma ~3 MHz ≈ 0.45, VHS chroma ~0.5 MHz ≈ 0.07.
"""

from __future__ import annotations

import cv2
import numpy as np

from restore.training.degradations import Context, draw, register, to_luma

# BT.601 RGB → Y'CbCr and back (full range: the synthetic pictures never leave float).
_RGB2YCC = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]],
                    dtype=np.float32)
_YCC2RGB = np.linalg.inv(_RGB2YCC).astype(np.float32)


def rgb_to_ycc(image: np.ndarray) -> np.ndarray:
    return image @ _RGB2YCC.T


def ycc_to_rgb(ycc: np.ndarray) -> np.ndarray:
    return np.clip(ycc @ _YCC2RGB.T, 0, 1).astype(np.float32)


def sigma_for_bandwidth(fraction_of_nyquist: float) -> float:
    """The Gaussian whose -3 dB point lies at ``fraction`` × Nyquist (0.5 cycles/px)."""
    # a Gaussian of deviation s (px) falls 3 dB at f = 0.1325 / s cycles per pixel
    return 0.1325 / (0.5 * max(fraction_of_nyquist, 1e-3))


def horizontal_lowpass(plane: np.ndarray, fraction_of_nyquist: float) -> np.ndarray:
    if fraction_of_nyquist >= 1.0:
        return plane
    return cv2.GaussianBlur(plane, (0, 0), sigmaX=sigma_for_bandwidth(fraction_of_nyquist), sigmaY=1e-3,
                            borderType=cv2.BORDER_REFLECT_101)


@register("gray")
def gray(images, p, ctx: Context):
    """Black-and-white: luma in all three channels."""
    return [np.repeat(to_luma(img)[..., None], 3, axis=2).astype(np.float32) for img in images]


@register("saturation")
def saturation(images, p, ctx: Context):
    """Faded or tinted colour: chroma scaled by ``amount`` (0 grey … 1 unchanged), optionally
    toward a warm ``tint`` (sepia-toned prints, faded dye layers)."""
    amount = ctx.once("amount", lambda: float(draw(p.get("amount", [0.3, 1.0]), ctx.rng)))
    tint = ctx.once("tint", lambda: float(draw(p.get("tint", 0.0), ctx.rng)))
    out = []
    for img in images:
        luma = to_luma(img)[..., None]
        faded = luma + amount * (img - luma)
        if tint:
            faded = faded + tint * luma * np.array([0.06, 0.0, -0.08], np.float32)
        out.append(np.clip(faded, 0, 1).astype(np.float32))
    return out


@register("luma_bandwidth")
def luma_bandwidth(images, p, ctx: Context):
    """The line signal's limited bandwidth: a horizontal-only low-pass of luma."""
    cutoff = ctx.once("cutoff", lambda: float(draw(p.get("cutoff", [0.5, 0.9]), ctx.rng)))
    out = []
    for img in images:
        ycc = rgb_to_ycc(img)
        ycc[..., 0] = horizontal_lowpass(ycc[..., 0], cutoff)
        out.append(ycc_to_rgb(ycc))
    return out


def _subsample(plane: np.ndarray, fx: int, fy: int) -> np.ndarray:
    h, w = plane.shape
    small = cv2.resize(plane, (max(1, w // fx), max(1, h // fy)), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


@register("chroma")
def chroma(images, p, ctx: Context):
    """Colour-difference signals: narrow band, subsampled (4:2:0, 4:2:2, 4:1:1), PAL's delay-line
    average of adjacent lines, and the chroma delay of tape (colour shifted right of the luma)."""
    bandwidth = ctx.once("bandwidth", lambda: float(draw(p.get("bandwidth", [0.15, 0.5]), ctx.rng)))
    sub = ctx.once("sub", lambda: draw(p.get("subsampling", {"choices": ["420", "422"]}), ctx.rng))
    line_average = ctx.once("pal", lambda: ctx.rng.random() < p.get("pal_line_average_prob", 0.0))
    shift = ctx.once("shift", lambda: float(draw(p.get("shift", 0.0), ctx.rng)))
    factors = {"444": (1, 1), "422": (2, 1), "420": (2, 2), "411": (4, 1)}[str(sub)]
    out = []
    for img in images:
        ycc = rgb_to_ycc(img)
        for c in (1, 2):
            plane = horizontal_lowpass(ycc[..., c], bandwidth)
            if line_average:
                plane = cv2.blur(plane, (1, 2), borderType=cv2.BORDER_REFLECT_101)
            plane = _subsample(plane, *factors)
            if shift:
                m = np.float32([[1, 0, shift], [0, 1, 0]])
                plane = cv2.warpAffine(plane, m, plane.shape[::-1], flags=cv2.INTER_LINEAR,
                                       borderMode=cv2.BORDER_REPLICATE)
            ycc[..., c] = plane
        out.append(ycc_to_rgb(ycc))
    return out


def weave(current: np.ndarray, other: np.ndarray, bottom: bool = True) -> np.ndarray:
    """A frame whose bottom (or top) field comes from ``other``: combing wherever they differ."""
    out = current.copy()
    start = 1 if bottom else 0
    out[start::2] = other[start::2]
    return out


@register("interlace")
def interlace(images, p, ctx: Context):
    """Fields from two instants in one frame: combing (``blend_prob`` 0) or field blending (a
    standards conversion that mixed fields, ghosting the whole frame by ``blend``).

    In a clip the second field is the previous frame's; for a still it is the same picture
    moved by ``motion`` pixels, as a moving camera would have moved it 1/50 s later.
    """
    blend_mode = ctx.once("blend_mode", lambda: ctx.rng.random() < p.get("blend_prob", 0.3))
    amount = ctx.once("blend", lambda: float(draw(p.get("blend", [0.2, 0.5]), ctx.rng)))
    out = []
    for img in images:
        other = ctx.local.get("previous") if ctx.clip else None
        if other is None or other.shape != img.shape:
            dx, dy = (float(draw(p.get("motion", [0.5, 3.0]), ctx.rng)) * float(ctx.rng.choice([-1, 1]))
                      for _ in range(2))
            m = np.float32([[1, 0, dx], [0, 1, dy * 0.5]])
            other = cv2.warpAffine(img, m, img.shape[1::-1], flags=cv2.INTER_LINEAR,
                                   borderMode=cv2.BORDER_REFLECT_101)
        if ctx.clip:
            ctx.local["previous"] = img
        out.append(((1 - amount) * img + amount * other).astype(np.float32) if blend_mode else weave(img, other))
    return out


@register("vhs")
def vhs(images, p, ctx: Context):
    """Tape transport: line timing jitter (``jitter`` px), and head-switching noise in the last
    ``head_switch`` lines of the picture (lines pushed sideways and noisy)."""
    jitter = ctx.once("jitter", lambda: float(draw(p.get("jitter", [0.0, 0.8]), ctx.rng)))
    head = ctx.once("head", lambda: int(round(draw(p.get("head_switch", [0, 6]), ctx.rng))))
    out = []
    for img in images:
        h, w = img.shape[:2]
        walk = np.cumsum(ctx.rng.standard_normal(h).astype(np.float32))
        walk = cv2.GaussianBlur(walk[:, None], (1, 0), sigmaX=1e-3, sigmaY=4).ravel()
        walk = (walk - walk.mean()) / (walk.std() + 1e-6) * jitter
        if head:
            walk[h - head:] += np.linspace(2.0, 8.0, head, dtype=np.float32) * ctx.rng.choice([-1, 1])
        xs = np.arange(w, dtype=np.float32)[None, :] + walk[:, None]
        ys = np.repeat(np.arange(h, dtype=np.float32)[:, None], w, axis=1)
        moved = cv2.remap(img, xs.astype(np.float32), ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        if head:
            moved[h - head:] = np.clip(moved[h - head:] + ctx.rng.normal(0, 0.06, moved[h - head:].shape), 0, 1)
        out.append(moved.astype(np.float32))
    return out
