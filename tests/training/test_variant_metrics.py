"""The measures the variants benchmark reads the structure-loss and venue results with."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from benchmarks.bench_sr_variants import CANDIDATES, candidates, gmsd, hf_ratio, paired


def _picture() -> np.ndarray:
    rng = np.random.default_rng(3)
    base = cv2.resize(rng.random((24, 24, 3), dtype=np.float32), (192, 192), interpolation=cv2.INTER_CUBIC)
    return np.clip(base + 0.08 * rng.standard_normal(base.shape, dtype=np.float32), 0, 1)


def test_gmsd_and_hf_ratio_tell_blur_from_invented_detail():
    truth = _picture()
    blurred = cv2.GaussianBlur(truth, (0, 0), 1.2)
    noisy = np.clip(truth + 0.1 * np.random.default_rng(4).standard_normal(truth.shape, dtype=np.float32), 0, 1)
    assert gmsd(truth, truth) < 1e-6 and abs(hf_ratio(truth, truth) - 1) < 1e-6
    assert gmsd(blurred, truth) > 0.01 and hf_ratio(blurred, truth) < 0.65
    assert hf_ratio(noisy, truth) > 1.2


def test_paired_difference_interval_and_wins():
    a = np.array([1.0, 2.0, 3.0, 4.0])
    mean, low, high, wins = paired(a + 0.5, a)
    assert mean == 0.5 and low == high == 0.5 and wins == 1.0
    mean, low, high, wins = paired(np.array([1.0, -1.0, 1.0, -1.0]), np.zeros(4))
    assert mean == 0 and low < 0 < high and wins == 0.5


def test_candidates_come_from_the_environment_and_a_missing_file_is_refused(tmp_path, monkeypatch):
    extra = tmp_path / "mine.safetensors"
    extra.write_bytes(b"x")
    monkeypatch.setenv("RESTORE_SR_CANDIDATES", str(extra))
    found = candidates()
    assert found["mine"] == extra
    assert set(found) - {"mine"} <= set(CANDIDATES)
    monkeypatch.setenv("RESTORE_SR_CANDIDATES", str(tmp_path / "absent.safetensors"))
    with pytest.raises(SystemExit, match="absent.safetensors is not a file"):
        candidates()
