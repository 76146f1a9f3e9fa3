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
