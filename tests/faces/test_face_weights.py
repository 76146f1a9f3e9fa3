"""The committed face weights: loadable through the registry, carded, small."""

from __future__ import annotations

import numpy as np
import torch

from restore.models.registry import load_model
from restore.training.face_train import restore_crops


def test_committed_face_weights_load_and_keep_a_flat_grey_face_grey():
    model = load_model("restore-face-v1")
    assert model.arch["type"] == "FaceUNetS" and model.card["crop_size"] == 128
    assert model.path.stat().st_size < 10_000_000
    assert model.card["validation"]["psnr_output"] > model.card["validation"]["psnr_input"]
    assert all(p.dtype == torch.float32 for p in model.module.parameters())
    grey = np.full((1, 128, 128, 3), 0.5, np.float32)
    out = restore_crops(model.module, grey, "cpu")
    assert out.shape == grey.shape
    assert float(np.abs(out - 0.5).mean()) < 0.05
