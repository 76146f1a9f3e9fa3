"""The VGG-free structure loss penalises lost detail more than an equal L1 error in tone."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from restore.training.ema import ModelEMA
from restore.training.losses import StructureLoss


def test_structure_loss_targets_detail_not_tone():
    torch.manual_seed(0)
    sharp = torch.rand(2, 3, 64, 64)
    blurred = F.avg_pool2d(F.pad(sharp, (1, 1, 1, 1), mode="reflect"), 3, stride=1)
    shifted = (sharp + F.l1_loss(blurred, sharp)).clamp(0, 1)  # same order of L1 error, detail intact
    loss = StructureLoss()
    assert loss(sharp, sharp).item() == 0.0
    assert loss(blurred, sharp) > 5 * loss(shifted, sharp)


def test_ema_warms_up_then_averages():
    net = torch.nn.Linear(2, 1, bias=False)
    torch.nn.init.zeros_(net.weight)
    ema = ModelEMA(net, decay=0.999)
    with torch.no_grad():
        net.weight.fill_(1.0)
    for _ in range(50):
        ema.update(net)
    # Fixed 0.999 would leave the average at 1 - 0.999^50 ≈ 0.05 of the way; warm-up gets near 1.
    assert ema.module.weight.min().item() > 0.9
    assert ema.current_decay() < 0.999
