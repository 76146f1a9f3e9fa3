"""Fixtures for the workbench tests: a tiny RGB clip and a cheap pipeline that keeps the source's geometry."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ffmpeg

# a light denoise: cheap, output geometry = source geometry, so "the source's pixels" is exact
DENOISE_YAML = """\
name: test-denoise
description: Light hqdn3d denoise for the workbench tests (keeps the source's geometry).
stages:
  - stage: denoise
    method: hqdn3d
    strength: 1.0
"""
W, H, FRAMES = 160, 120, 12


def make_rgb_clip(path: Path, frames: int = FRAMES) -> Path:
    """160×120 RGB (gbrp FFV1) test pattern: an RGB source makes the FFV1 round trip exact."""
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=size={W}x{H}:rate=25", "-frames:v", str(frames),
           "-c:v", "ffv1", "-pix_fmt", "gbrp", str(path))
    return path


def decode_rgb(path: Path, width: int = W, height: int = H) -> np.ndarray:
    import subprocess

    raw = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map", "0:v:0", "-f", "rawvideo",
                          "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3)


def write_mask(folder: Path, box: tuple[int, int, int, int], width: int = W, height: int = H) -> tuple[str, str]:
    """A mask PNG named by its sha256 under folder/masks; returns (relative path, sha256)."""
    import cv2

    x, y, w, h = box
    mask = np.zeros((height, width), np.uint8)
    mask[y:y + h, x:x + w] = 255
    data = cv2.imencode(".png", mask)[1].tobytes()
    digest = hashlib.sha256(data).hexdigest()
    (folder / "masks").mkdir(parents=True, exist_ok=True)
    (folder / "masks" / f"{digest}.png").write_bytes(data)
    return f"masks/{digest}.png", digest


def write_corrections(folder: Path, items: list[dict]) -> Path:
    doc = {"format": "restore-corrections", "version": 1, "job": "test", "revision": 1, "corrections": items,
           "history": []}
    path = folder / "corrections.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture
def rgb_clip(tmp_path) -> Path:
    return make_rgb_clip(tmp_path / "clip.mkv")


@pytest.fixture
def denoise_pipeline(tmp_path) -> Path:
    path = tmp_path / "test-denoise.yaml"
    path.write_text(DENOISE_YAML)
    return path
