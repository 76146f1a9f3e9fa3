"""Face pairs made on the device (restore.training.face_synth) and aligned-face packs (face_data)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from restore.errors import UserError
from restore.training import face_synth
from restore.training.face_data import read_face_pack


def _crops(n: int = 6, size: int = 64) -> torch.Tensor:
    rng = np.random.default_rng(1)
    coarse = rng.random((n, size // 8, size // 8, 3)).astype(np.float32)
    faces = np.stack([cv2.resize(c, (size, size), interpolation=cv2.INTER_CUBIC) for c in coarse]).clip(0, 1)
    return torch.from_numpy((faces * 255).astype(np.uint8)).permute(0, 3, 1, 2).contiguous()


def test_pairs_are_seeded_degraded_and_grey_on_both_sides():
    crops = _crops()
    cfg = {"grey_p": 0.5, "small_size": [32, 48], "jpeg_p": 1.0, "noise_p": 1.0}
    lq, hq = face_synth.degrade_faces(crops, torch.Generator().manual_seed(7), cfg)
    lq2, hq2 = face_synth.degrade_faces(crops, torch.Generator().manual_seed(7), cfg)
    assert torch.equal(lq, lq2) and torch.equal(hq, hq2)
    assert lq.shape == hq.shape == (6, 3, 64, 64)
    assert float((lq - hq).abs().mean()) > 0.01
    grey_target = (hq.amax(1) - hq.amin(1)).amax(dim=(1, 2)) < 1e-6
    assert 0 < int(grey_target.sum()) < 6                      # some pairs grey, some colour
    tone = {"tone_p": 0.0}
    lq, hq = face_synth.degrade_faces(crops, torch.Generator().manual_seed(3), {**cfg, **tone})
    grey_target = (hq.amax(1) - hq.amin(1)).amax(dim=(1, 2)) < 1e-6
    grey_input = (lq.amax(1) - lq.amin(1)).amax(dim=(1, 2)) < 0.02
    assert torch.equal(grey_target & ~grey_input, torch.zeros_like(grey_target))   # grey stays grey


def test_patches_are_cut_from_the_same_place_of_input_and_target():
    crops = _crops()
    lq, hq = face_synth.batch(crops, torch.Generator().manual_seed(1), 4, {"blur_sigma": [0.3, 0.3],
                              "small_size": [64, 64], "noise_p": 0, "jpeg_p": 0, "tone_p": 0,
                              "field_p": 0, "chroma_p": 0}, patch=32)
    assert lq.shape == (4, 3, 32, 32)
    assert float((lq - hq).abs().mean()) < 0.05                # only a light blur apart: same window


def test_a_pack_row_without_licence_is_refused(tmp_path):
    cv2.imwrite(str(tmp_path / "a.jpg"), np.zeros((16, 16, 3), np.uint8))
    (tmp_path / "index.tsv").write_text("# pack\ncrop\trel\tsha256\tperson\tsplit\tlicense\tsource\n"
                                        "a.jpg\tx/a.jpg\t00\tp1\t\t\tsomewhere\n")
    with pytest.raises(UserError, match="no usable source/licence"):
        read_face_pack(tmp_path / "index.tsv")
    (tmp_path / "index.tsv").write_text("# pack\ncrop\trel\tsha256\tperson\tsplit\tlicense\tsource\n"
                                        "a.jpg\tx/a.jpg\t00\tp1\t\tCC0-1.0\tsomewhere\n")
    crops, images = read_face_pack(tmp_path / "index.tsv")
    assert crops.shape == (1, 16, 16, 3) and images[0].person == "p1" and images[0].license == "CC0-1.0"
