"""Fixtures for face tests: real portraits come from ../shared (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO / ".." / "shared"
FACES = SHARED / "corpora" / "faces"


def read_rgb(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert bgr is not None, path
    return np.ascontiguousarray(bgr[:, :, ::-1]).astype(np.float32) / 255.0


@pytest.fixture(scope="session")
def portrait_paths() -> list[Path]:
    folder = FACES / "debruine_self"
    paths = sorted(folder.glob("*.jpg")) if folder.is_dir() else []
    if len(paths) < 2:
        pytest.skip("../shared/corpora/faces is absent")
    return paths


@pytest.fixture(scope="session")
def other_person_path() -> Path:
    paths = sorted((FACES / "frl_london").glob("*.jpg")) if (FACES / "frl_london").is_dir() else []
    if not paths:
        pytest.skip("../shared/corpora/faces is absent")
    return paths[0]
