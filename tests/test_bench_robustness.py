"""The robustness bench's damage is what its labels say: ffmpeg alone, at the stated size, harsher
down its list (benchmarks/bench_robustness.py; the figures are in the README, "Robustness")."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from benchmarks import bench_robustness as br
from benchmarks import ground_truth as gt
from restore.metrics import luma, psnr_y


def _truth() -> list[np.ndarray]:
    picture = gt.scene(br.HR_W + 40, br.HR_H + 40, seed=3)
    return gt.pan(picture, 4, br.HR_W, br.HR_H, dx=0.6, dy=0.3)


def test_every_cell_degrades_to_the_recorded_size_and_the_codecs_rank_by_harshness(tmp_path: Path):
    hr_file = gt.write_clip(_truth(), tmp_path / "truth.mkv", pix_fmt="yuv444p")
    truth = gt.read_clip(hr_file)
    small = [cv2.resize(f, (br.LR_W, br.LR_H), interpolation=cv2.INTER_AREA) for f in truth]
    grid = br.cells(quick=False)
    assert len(grid) == len(br.BLURS) * len(br.NOISES) * len(br.CODECS)
    scores = {}
    for c, (label, chain, codec) in enumerate(grid):
        if not label.startswith("sharp · clean"):
            continue
        lr = gt.read_clip(br.degrade(hr_file, chain, codec, tmp_path / f"lr-{c}.mkv"))
        assert len(lr) == len(truth) and lr[0].shape == (br.LR_H, br.LR_W, 3), label
        scores[codec] = float(np.mean([psnr_y(a, b) for a, b in zip(lr, small)]))
    # lossless is the area downscale itself (only YUV rounding), then MPEG-2 worsens as its rate falls
    assert scores["lossless"] > 45.0
    assert scores["lossless"] > scores["MPEG-2 1.2 Mb/s"] > scores["MPEG-2 0.4 Mb/s"]
    assert all(scores[codec] < scores["lossless"] - 1.0 for codec in scores if codec != "lossless")


def test_blur_and_noise_cells_move_the_picture_away_from_the_clean_one(tmp_path: Path):
    hr_file = gt.write_clip(_truth(), tmp_path / "truth.mkv", pix_fmt="yuv444p")
    grid = {label: (chain, codec) for label, chain, codec in br.cells(quick=False) if codec == "lossless"}
    clean = gt.read_clip(br.degrade(hr_file, *grid["sharp · clean · lossless"], tmp_path / "clean.mkv"))
    soft = gt.read_clip(br.degrade(hr_file, *grid["soft (gblur σ 0.8) · clean · lossless"], tmp_path / "soft.mkv"))
    detail = lambda clip: float(np.mean([np.abs(np.diff(luma(f), axis=1)).mean() for f in clip]))  # noqa: E731
    assert detail(soft) < 0.9 * detail(clean)
    # ffmpeg's noise is temporal (allf=t): two frames of a noisy clip differ by more than the pan explains
    noisy = gt.read_clip(br.degrade(hr_file, *grid["sharp · noise 8 · lossless"], tmp_path / "noisy.mkv"))
    assert float(np.mean([psnr_y(a, b) for a, b in zip(noisy, clean)])) < 40.0
    assert np.abs(noisy[1] - noisy[0]).mean() > np.abs(clean[1] - clean[0]).mean() + 1.0 / 255
