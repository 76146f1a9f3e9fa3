"""A multi-frame super-resolution network light enough for a CPU: ``WindowFusionSR``.

It restores one frame from a sliding window of 2·radius+1 frames that
``restore.models.motion.align_window`` has registered onto the centre frame by whole
pixels. Early fusion: all frames enter the first convolution together, so every layer can
compare the centre with its neighbours, and the sub-pixel offsets between them — the source
of real detail — are resolved by the network's own receptive field rather than by an
interpolating warp that would blur them away.

Cost is what decides the shape on two CPU cores. The window is first folded 2×2 into
channels (pixel-unshuffle, lossless), so the body runs at half the input resolution with 4×
the channels: for the same multiply-accumulates per frame, a quarter of the positions buys a
wider body and a receptive field twice as large in input pixels (±2 px of motion between
adjacent frames at radius 2 stays well inside it). The output is a residual over a bilinear
upscale of the centre frame, so an untrained or unsure network returns the plain upscale.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from restore.models.archs import register_arch

ARCH_NAME = "WindowFusionSR"


class _ResidualPair(nn.Module):
    """conv-PReLU-conv with a skip: plain enough for fast CPU kernels, deep enough to train."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.act = nn.PReLU(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.act(self.conv1(x)))


@register_arch(ARCH_NAME, example={"radius": 1, "num_feat": 8, "num_pairs": 1, "upscale": 2})
class WindowFusionSR(nn.Module):
    """``forward(window)``: N×T×3×H×W registered frames in [0, 1] → N×3×(scale·H)×(scale·W).

    H and W must be even (the 2×2 fold); the stage pads odd sizes.
    """

    fold = 2

    def __init__(self, radius: int = 2, num_feat: int = 48, num_pairs: int = 4, upscale: int = 2):
        super().__init__()
        self.radius = radius
        self.frames = 2 * radius + 1
        self.upscale = upscale
        in_ch = 3 * self.frames * self.fold ** 2
        self.head = nn.Conv2d(in_ch, num_feat, 3, padding=1)
        self.head_act = nn.PReLU(num_feat)
        self.body = nn.Sequential(*[_ResidualPair(num_feat) for _ in range(num_pairs)])
        self.tail = nn.Conv2d(num_feat, 3 * (upscale * self.fold) ** 2, 3, padding=1)
        nn.init.zeros_(self.tail.weight)   # starts as the bilinear upscale of the centre frame
        nn.init.zeros_(self.tail.bias)

    def example_input(self, height: int, width: int) -> torch.Tensor:
        """A zero window of one frame size: what ``count_macs`` probes the network with."""
        return torch.zeros(1, self.frames, 3, height, width)

    def forward(self, window: torch.Tensor) -> torch.Tensor:
        n, t, c, h, w = window.shape
        if t != self.frames:
            raise ValueError(f"WindowFusionSR(radius={self.radius}) takes {self.frames} frames, got {t}")
        centre = window[:, self.radius]
        x = F.pixel_unshuffle(window.reshape(n, t * c, h, w) - 0.5, self.fold)
        feat = self.head_act(self.head(x))
        feat = feat + self.body(feat)
        residual = F.pixel_shuffle(self.tail(feat), self.upscale * self.fold)
        base = F.interpolate(centre, scale_factor=self.upscale, mode="bilinear", align_corners=False)
        return base + residual
