"""A small face restorer for aligned 128×128 crops (FFHQ five-point template).

A U-Net that predicts a residual over its input: three stride-2 levels give the
bottleneck a 16×16 view of the whole face (eyes, nose and mouth in one receptive
field) while full resolution keeps only one convolution in and out, because that is
where CPU time goes. Sized for CPU inference (≈2.4 GMAC per face) and for training
from scratch in half an hour on two cores; it restores structure that blur, noise
and compression destroyed, it does not invent a 512-px FFHQ face as GFPGAN does.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from restore.models.archs import register_arch

ARCH_NAME = "FaceUNetS"


class ResBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x):
        return x + self.conv2(F.leaky_relu(self.conv1(x), 0.2))


@register_arch(ARCH_NAME, example={"channels": [8, 8, 8, 8], "blocks": [0, 1, 1, 1]})
class FaceUNetS(nn.Module):
    """Residual U-Net: ``forward(x)`` takes and returns N×3×H×W in [0, 1] (H, W multiples of 8)."""

    def __init__(self, channels: tuple[int, ...] = (24, 48, 96, 128), blocks: tuple[int, ...] = (0, 1, 2, 2)):
        super().__init__()
        self.config = {"channels": list(channels), "blocks": list(blocks)}
        c = list(channels)
        self.head = nn.Conv2d(3, c[0], 3, padding=1)
        self.down = nn.ModuleList(nn.Conv2d(c[i], c[i + 1], 4, stride=2, padding=1) for i in range(len(c) - 1))
        self.enc = nn.ModuleList(nn.Sequential(*[ResBlock(c[i]) for _ in range(blocks[i])]) for i in range(len(c)))
        self.up = nn.ModuleList(nn.Conv2d(c[i + 1], c[i] * 4, 3, padding=1) for i in range(len(c) - 1))
        self.fuse = nn.ModuleList(nn.Conv2d(c[i] * 2, c[i], 3, padding=1) for i in range(len(c) - 1))
        self.dec = nn.ModuleList(nn.Sequential(*[ResBlock(c[i]) for _ in range(blocks[i])]) for i in range(len(c) - 1))
        self.tail = nn.Conv2d(c[0], 3, 3, padding=1)
        nn.init.zeros_(self.tail.weight)   # starts as the identity: output = input
        nn.init.zeros_(self.tail.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        h = F.leaky_relu(self.head(x), 0.2)
        for level, enc in enumerate(self.enc):
            if level > 0:
                h = F.leaky_relu(self.down[level - 1](h), 0.2)
            h = enc(h)
            skips.append(h)
        for level in reversed(range(len(self.up))):
            h = F.pixel_shuffle(F.leaky_relu(self.up[level](h), 0.2), 2)
            h = F.leaky_relu(self.fuse[level](torch.cat([h, skips[level]], 1)), 0.2)
            h = self.dec[level](h)
        return x + self.tail(h)


def build_face_model(config: dict | None = None) -> FaceUNetS:
    config = dict(config or {})
    return FaceUNetS(**{k: tuple(v) for k, v in config.items() if k in ("channels", "blocks")})


def grow_from(model: FaceUNetS, trained: dict[str, torch.Tensor]) -> list[str]:
    """Load a trained, shallower model's weights into ``model`` (same channels, at least as many
    residual blocks per level); returns the blocks that are new.

    A new block starts as the identity (its second convolution zeroed), so the grown network
    computes exactly what the trained one did and training continues from its quality instead of
    from scratch: the added depth only has to learn what the smaller network could not."""
    own = model.state_dict()
    for key, value in trained.items():
        if key not in own:
            raise ValueError(f"cannot grow into this model: it has no {key} (fewer blocks or other levels)")
        if own[key].shape != value.shape:
            raise ValueError(f"cannot grow into this model: {key} is {tuple(value.shape)} trained, "
                             f"{tuple(own[key].shape)} here (only depth may grow, not channels)")
    missing = [key for key in own if key not in trained]
    new_blocks = sorted({key.rsplit(".", 2)[0] for key in missing})
    for key in missing:
        parts = key.split(".")
        if not (len(parts) == 5 and parts[0] in ("enc", "dec") and parts[3] in ("conv1", "conv2")):
            raise ValueError(f"cannot grow into this model: {key} is not part of an added residual block")
    model.load_state_dict(trained, strict=False)
    with torch.no_grad():
        for block in new_blocks:
            conv2 = model.get_submodule(f"{block}.conv2")
            nn.init.zeros_(conv2.weight)
            nn.init.zeros_(conv2.bias)
    return new_blocks
