"""Blur and resampling: the lens, the camera tube or scanner, and Real-ESRGAN's resize steps."""

from __future__ import annotations

import math

import cv2
import numpy as np

from restore.training.degradations import Context, draw, register, seeded_globals

# Real-ESRGAN's kernel mix (options/train_realesrgan_x4plus.yml).
KERNELS = ["iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso"]
KERNEL_PROBS = [0.45, 0.25, 0.12, 0.03, 0.12, 0.03]
INTERPOLATIONS = {"area": cv2.INTER_AREA, "bilinear": cv2.INTER_LINEAR, "bicubic": cv2.INTER_CUBIC}


def _basicsr_degradations():
    import restore.models.compat  # noqa: F401  (must precede basicsr)
    from basicsr.data import degradations

    return degradations


def blur_kernel(rng: np.random.Generator, sigma: tuple[float, float], kernel_size: int = 21,
                kernels=KERNELS, probs=KERNEL_PROBS, betag=(0.5, 4.0), betap=(1.0, 2.0)) -> np.ndarray:
    """One of basicsr's random mixed kernels (isotropic, anisotropic, generalised, plateau)."""
    degradations = _basicsr_degradations()
    with seeded_globals(rng):
        kernel = degradations.random_mixed_kernels(
            list(kernels), list(probs), kernel_size, tuple(sigma), tuple(sigma),
            [-math.pi, math.pi], tuple(betag), tuple(betap), noise_range=None)
    return kernel.astype(np.float32)


def _odd_kernel_size(sigma_max: float, rng: np.random.Generator, sizes=None) -> int:
    if sizes:
        return int(draw({"choices": list(sizes)}, rng))
    # about ±3 sigma, odd, within basicsr's 7..21 range of kernel sizes
    return int(min(21, max(7, 2 * math.ceil(3 * sigma_max) + 1)))


@register("blur")
def blur(images, p, ctx: Context):
    """Optical blur with a basicsr kernel; ``sigma`` is a range in pixels of the current image."""
    low, high = (p["sigma"] if isinstance(p["sigma"], (list, tuple)) else (p["sigma"], p["sigma"]))

    def make():
        size = _odd_kernel_size(high, ctx.rng, p.get("kernel_sizes"))
        return blur_kernel(ctx.rng, (low, high), size, p.get("kernels", KERNELS), p.get("kernel_probs", KERNEL_PROBS))

    kernel = ctx.once("kernel", make)
    return [cv2.filter2D(img, -1, kernel, borderType=cv2.BORDER_REFLECT_101) for img in images]


@register("sinc")
def sinc(images, p, ctx: Context):
    """Ringing and overshoot of a sharp low-pass (Real-ESRGAN's sinc filter), cutoff in rad/px."""
    def make():
        size = int(draw({"choices": [7, 9, 11, 13, 15, 17, 19, 21]}, ctx.rng))
        omega = float(draw(p.get("omega", [math.pi / 3, math.pi]), ctx.rng))
        return _basicsr_degradations().circular_lowpass_kernel(omega, size, pad_to=21).astype(np.float32)

    kernel = ctx.once("kernel", make)
    return [cv2.filter2D(img, -1, kernel, borderType=cv2.BORDER_REFLECT_101) for img in images]


def resize_to(image: np.ndarray, width: int, height: int, mode: str) -> np.ndarray:
    return cv2.resize(image, (width, height), interpolation=INTERPOLATIONS[mode])


def _resize_factor(p: dict, rng: np.random.Generator) -> float:
    """``scale``: a range; or ``up``/``down`` ranges with ``updown_probs`` (up, down, keep), as
    Real-ESRGAN draws its resize (mostly down, sometimes up, sometimes none)."""
    if "updown_probs" in p:
        probs = np.asarray(p["updown_probs"], dtype=float)
        kind = ("up", "down", "keep")[int(rng.choice(3, p=probs / probs.sum()))]
        return 1.0 if kind == "keep" else float(draw(p[kind], rng))
    return float(draw(p.get("scale", [0.5, 1.0]), rng))


@register("resize")
def resize(images, p, ctx: Context):
    """Resize by a random factor of the current size (or of the target size, ``of_target``),
    or to the target size (``to_target``)."""
    mode = ctx.once("mode", lambda: draw(p.get("mode", {"choices": ["area", "bilinear", "bicubic"]}), ctx.rng))
    factor = ctx.once("factor", lambda: _resize_factor(p, ctx.rng))
    out = []
    for img in images:
        h, w = img.shape[:2]
        if p.get("to_target"):
            tw, th = ctx.state["target_size"]
        elif p.get("of_target"):  # Real-ESRGAN's second resize: relative to the final size
            tw, th = (max(8, round(v * factor)) for v in ctx.state["target_size"])
        else:
            tw, th = max(8, round(w * factor)), max(8, round(h * factor))
        out.append(np.clip(resize_to(img, tw, th, mode), 0, 1) if (tw, th) != (w, h) else img)
    return out
