"""The VGG-free structure loss penalises lost detail more than an equal L1 error in tone; the SSIM loss is
the benches' SSIM-Y."""

from __future__ import annotations

import cv2
import numpy as np
import torch
from torch.nn import functional as F

from restore.metrics import ssim_y
from restore.training.ema import ModelEMA
from restore.training.losses import SSIMLoss, StructureLoss


def test_structure_loss_targets_detail_not_tone():
    torch.manual_seed(0)
    sharp = torch.rand(2, 3, 64, 64)
    blurred = F.avg_pool2d(F.pad(sharp, (1, 1, 1, 1), mode="reflect"), 3, stride=1)
    shifted = (sharp + F.l1_loss(blurred, sharp)).clamp(0, 1)  # same order of L1 error, detail intact
    loss = StructureLoss()
    assert loss(sharp, sharp).item() == 0.0
    assert loss(blurred, sharp) > 5 * loss(shifted, sharp)


def test_ssim_loss_is_one_minus_the_benches_ssim_y_and_descends_to_it():
    rng = np.random.default_rng(4)
    truth = cv2.GaussianBlur(rng.random((40, 48, 3)).astype(np.float32), (0, 0), 1.5)
    noisy = np.clip(truth + rng.normal(0, 0.04, truth.shape), 0, 1).astype(np.float32)

    def tensor(z):
        return torch.from_numpy(z).permute(2, 0, 1)[None].contiguous()

    loss = SSIMLoss()
    assert abs((1 - loss(tensor(noisy), tensor(truth)).item()) - ssim_y(noisy, truth)) < 1e-5
    assert loss(tensor(truth), tensor(truth)).item() < 1e-6
    guess = tensor(noisy).requires_grad_(True)
    opt = torch.optim.Adam([guess], lr=0.01)
    for _ in range(30):
        opt.zero_grad()
        loss(guess, tensor(truth)).backward()
        opt.step()
    restored = guess.detach()[0].permute(1, 2, 0).clamp(0, 1).numpy()
    assert ssim_y(restored, truth) > ssim_y(noisy, truth) + 0.1


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
