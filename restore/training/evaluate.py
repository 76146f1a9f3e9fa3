"""SR quality metrics and inference helpers shared by validation and the benchmark.

PSNR and SSIM are computed on Y (ITU-R BT.601, as in SR papers) with ``scale`` pixels cropped
from each border, NIQE (no reference) on Y: all three through basicsr's implementations, so
our numbers are comparable with published BasicSR/Real-ESRGAN results. Inputs are float32
H×W×3 RGB in [0, 1]; basicsr wants BGR in [0, 255].
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

import restore.models.compat  # noqa: F401  (before basicsr)
from basicsr.metrics.niqe import calculate_niqe

from restore import metrics


def _bgr255(image: np.ndarray) -> np.ndarray:
    return np.clip(image[..., ::-1], 0.0, 1.0).astype(np.float64) * 255.0


def quantise(image: np.ndarray) -> np.ndarray:
    """Round to 8 bits as a saved frame would be: metrics of unrounded floats flatter a model."""
    return np.round(np.clip(image, 0.0, 1.0) * 255.0) / 255.0


def psnr_y(output: np.ndarray, target: np.ndarray, border: int) -> float:
    """restore.metrics.psnr_y of the output rounded to 8 bits, as a saved frame would be."""
    return metrics.psnr_y(quantise(output), target, border)


def ssim_y(output: np.ndarray, target: np.ndarray, border: int) -> float:
    """restore.metrics.ssim_y of the output rounded to 8 bits."""
    return metrics.ssim_y(quantise(output), target, border)


def niqe(image: np.ndarray, border: int) -> float:
    return float(calculate_niqe(_bgr255(quantise(image)), border, input_order="HWC", convert_to="y"))


@torch.inference_mode()
def upscale_with(module: torch.nn.Module, lr: np.ndarray, device: str | torch.device = "cpu") -> np.ndarray:
    """Run an SR network on one float32 RGB image; channels-last is 1.5–2× faster on CPU."""
    x = torch.from_numpy(np.ascontiguousarray(lr.transpose(2, 0, 1)))[None].to(device)
    x = x.contiguous(memory_format=torch.channels_last)
    y = module(x).clamp_(0.0, 1.0)
    return y[0].permute(1, 2, 0).float().cpu().numpy()


def evaluate(upscale: Callable[[np.ndarray], np.ndarray], pairs, scale: int, with_niqe: bool = True) -> dict:
    """Mean PSNR-Y / SSIM-Y (and NIQE) of ``upscale(lr)`` against ``hr`` over (lr, hr) pairs."""
    psnrs, ssims, niqes = [], [], []
    for lr, hr in pairs:
        sr = upscale(lr)
        psnrs.append(psnr_y(sr, hr, scale))
        ssims.append(ssim_y(sr, hr, scale))
        if with_niqe:
            niqes.append(niqe(sr, scale))
    result = {"psnr_y": round(float(np.mean(psnrs)), 3), "ssim_y": round(float(np.mean(ssims)), 4)}
    if with_niqe:
        result["niqe"] = round(float(np.mean(niqes)), 3)
    return result


def resize_upscale(scale: int, interpolation: int) -> Callable[[np.ndarray], np.ndarray]:
    """A classical interpolator as an ``upscale`` callable (the baselines we must beat)."""
    import cv2

    def run(lr: np.ndarray) -> np.ndarray:
        h, w = lr.shape[:2]
        return np.clip(cv2.resize(lr, (w * scale, h * scale), interpolation=interpolation), 0.0, 1.0)

    return run
