"""Losses for SR training, including our substitute for the VGG19 perceptual loss.

Real-ESRGAN's perceptual loss compares VGG19 features pretrained on ImageNet; those weights are
a download, which this project may not do at run time, and no installable package ships them.
``StructureLoss`` needs no pretrained network. What the perceptual term mostly adds over L1 is
pressure to keep edges and fine texture that L1 alone averages away; StructureLoss applies that
pressure directly:

* multi-scale gradients: L1 between the finite-difference gradients of output and target at
  full, 1/2 and 1/4 resolution (edges and their contrast, at several sizes);
* log-amplitude spectrum: L1 between ``log(1 + |FFT|)`` of output and target, which weights the
  high-frequency deficit of a blurry output (a focal-frequency-style term) instead of letting
  the large low-frequency energy dominate.

Its effect against plain L1 + GAN is measured by ``benchmarks/bench_sr_quality.py`` and
recorded in the default model's card.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def _gradients(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return x[..., :, 1:] - x[..., :, :-1], x[..., 1:, :] - x[..., :-1, :]


class StructureLoss(nn.Module):
    def __init__(self, scales: int = 3, gradient_weight: float = 1.0, spectrum_weight: float = 0.05):
        super().__init__()
        self.scales = scales
        self.gradient_weight = gradient_weight
        self.spectrum_weight = spectrum_weight

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        gradient = output.new_zeros(())
        a, b = output, target
        for level in range(self.scales):
            if level:
                a, b = F.avg_pool2d(a, 2), F.avg_pool2d(b, 2)
            (ax, ay), (bx, by) = _gradients(a), _gradients(b)
            gradient = gradient + F.l1_loss(ax, bx) + F.l1_loss(ay, by)
        spectrum = F.l1_loss(torch.log1p(torch.fft.rfft2(output, norm="ortho").abs()),
                             torch.log1p(torch.fft.rfft2(target, norm="ortho").abs()))
        return self.gradient_weight * gradient / self.scales + self.spectrum_weight * spectrum


def generator_gan_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Vanilla (non-saturating) GAN loss, per pixel of the U-Net discriminator's map, as in Real-ESRGAN."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


class SSIMLoss(nn.Module):
    """1 − SSIM of the BT.601 limited-range Y planes: ``restore.metrics.ssim_y`` made differentiable.

    The same definition the benchmarks score with (an 11×11 Gaussian window, σ 1.5, its valid part,
    C1 = 0.01², C2 = 0.03²), so training pushes on what is measured. L1 alone is the mean's
    estimator: on noisy sources it leaves a low-contrast mush that SSIM reads as lost structure,
    where SSIM's contrast and correlation terms ask for local variance and edges to match the
    truth (Zhao et al., "Loss Functions for Image Restoration with Neural Networks", 2017,
    found L1 + (MS-)SSIM better than either alone on both measures). Colour stays with L1.
    """

    def __init__(self, window: int = 11, sigma: float = 1.5):
        super().__init__()
        x = torch.arange(window, dtype=torch.float64) - (window - 1) / 2
        g = torch.exp(-(x ** 2) / (2 * sigma ** 2))
        g = (g / g.sum()).float()
        self.register_buffer("row", g.view(1, 1, 1, window))
        self.register_buffer("column", g.view(1, 1, window, 1))
        self.register_buffer("y_weights", torch.tensor([65.481, 128.553, 24.966]).view(1, 3, 1, 1) / 255.0)

    def _blur(self, z: torch.Tensor) -> torch.Tensor:        # separable, valid part only
        return F.conv2d(F.conv2d(z, self.row), self.column)

    def _y(self, rgb: torch.Tensor) -> torch.Tensor:
        return (rgb * self.y_weights).sum(1, keepdim=True) + 16.0 / 255.0

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        x, y = self._y(output), self._y(target)
        c1, c2 = 0.01 ** 2, 0.03 ** 2
        mx, my = self._blur(x), self._blur(y)
        sxx = self._blur(x * x) - mx * mx
        syy = self._blur(y * y) - my * my
        sxy = self._blur(x * y) - mx * my
        ssim = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
        return 1.0 - ssim.mean()
