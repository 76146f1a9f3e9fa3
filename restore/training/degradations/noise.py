"""Noise: sensor/tape noise (Real-ESRGAN's Gaussian and Poisson, through basicsr) and film grain."""

from __future__ import annotations

import cv2
import numpy as np

from restore.training.degradations import Context, draw, register, seeded_globals, to_luma


def _basicsr_noise():
    import restore.models.compat  # noqa: F401  (must precede basicsr)
    from basicsr.data.degradations import generate_gaussian_noise, generate_poisson_noise

    return generate_gaussian_noise, generate_poisson_noise


@register("noise")
def noise(images, p, ctx: Context):
    """Gaussian (``sigma`` in 8-bit levels) or, with ``poisson_prob``, Poisson (``poisson_scale``) noise.

    Level and kind are drawn once per clip; each frame gets fresh noise. ``streak`` > 0
    stretches the noise along lines, as a tape's noise is (the signal is read line by line).
    """
    gaussian, poisson = _basicsr_noise()
    use_poisson = ctx.once("poisson", lambda: ctx.rng.random() < p.get("poisson_prob", 0.0))
    gray = ctx.once("gray", lambda: ctx.rng.random() < p.get("gray_prob", 0.0))
    sigma = ctx.once("sigma", lambda: float(draw(p.get("sigma", [1.0, 30.0]), ctx.rng)))
    scale = ctx.once("scale", lambda: float(draw(p.get("poisson_scale", [0.05, 3.0]), ctx.rng)))
    streak = ctx.once("streak", lambda: float(draw(p.get("streak", 0.0), ctx.rng)))
    out = []
    for img in images:
        with seeded_globals(ctx.rng):
            n = poisson(img, scale, gray) if use_poisson else gaussian(img, sigma, gray)
        if streak > 0:
            # a horizontal blur lowers the noise's deviation: restore it to the asked level
            before = float(n.std()) + 1e-8
            n = cv2.GaussianBlur(n, (0, 0), sigmaX=streak, sigmaY=1e-3)
            n *= before / (float(n.std()) + 1e-8)
        out.append(np.clip(img + n.astype(np.float32), 0, 1))
    return out


def grain_field(shape: tuple[int, int], rng: np.random.Generator, size: float) -> np.ndarray:
    """Unit-deviation grain: white noise blurred to the grain ``size`` (pixels)."""
    field = rng.standard_normal(shape).astype(np.float32)
    if size > 0.05:
        field = cv2.GaussianBlur(field, (0, 0), sigmaX=size)
        field /= float(field.std()) + 1e-8
    return field


@register("grain")
def grain(images, p, ctx: Context):
    """Film grain: spatially correlated, strongest in the mid-tones, fresh on every frame.

    ``amount`` is the grain's deviation at mid-grey in 8-bit levels; ``size`` its blur in
    pixels; ``mono_prob`` the chance that one grain field is shared by R, G and B
    (black-and-white stock, or a colour film scanned through one sensor).
    """
    amount = ctx.once("amount", lambda: float(draw(p.get("amount", [2.0, 8.0]), ctx.rng)) / 255.0)
    size = ctx.once("size", lambda: float(draw(p.get("size", [0.4, 1.0]), ctx.rng)))
    mono = ctx.once("mono", lambda: ctx.rng.random() < p.get("mono_prob", 0.5))
    out = []
    for img in images:
        h, w = img.shape[:2]
        luma = to_luma(img)
        # silver-halide grain is most visible in mid-tones, less in deep shadow and highlights
        weight = (0.35 + 2.6 * luma * (1.0 - luma))[..., None]
        if mono:
            field = grain_field((h, w), ctx.rng, size)[..., None]
        else:
            field = np.stack([grain_field((h, w), ctx.rng, size) for _ in range(3)], axis=-1)
        out.append(np.clip(img + amount * weight * field, 0, 1).astype(np.float32))
    return out
