"""Identity embeddings: SFace (OpenCV Zoo, 2021dec, int8) run through ``cv2.dnn``.

``FaceRecognizerSF.alignCrop`` makes SFace's own 112×112 crop from the five points;
the network is read with ``cv2.dnn.readNetFromONNX`` (input ``data``) rather than
``FaceRecognizerSF.feature``, which fails on OpenCV 5 ("empty name"). Same person
scores ≥ 0.363 cosine (OpenCV Zoo's threshold).
"""

from __future__ import annotations

import cv2
import numpy as np

from restore.faces.detect import SFACE_FILE, YUNET_FILE, packaged_model

SAME_PERSON_THRESHOLD = 0.363


class IdentityEmbedder:
    def __init__(self):
        self.model_path = packaged_model(SFACE_FILE)
        # alignCrop is pure geometry; the recogniser object needs a model path but we
        # never call its feature() (see module docstring).
        self._aligner = cv2.FaceRecognizerSF.create(str(self.model_path), "")
        self._net = cv2.dnn.readNetFromONNX(str(self.model_path))

    def crop(self, image: np.ndarray, box, landmarks: np.ndarray) -> np.ndarray:
        """SFace's aligned 112×112 BGR uint8 crop of the face (``image`` RGB)."""
        points = np.asarray(landmarks, np.float32).reshape(5, 2)
        # Only the face's surroundings are converted to 8-bit BGR, not the whole frame (on an HD frame
        # that conversion cost more than the network). SFace's 112-px template puts the eyes 35 px
        # apart and samples at most 1.7 eye distances from them: the five points' bounds grown by
        # 2.5 eye distances (whatever the roll) hold every pixel it reads.
        x, y, w, h = (float(v) for v in box)
        reach = 2.5 * float(np.linalg.norm(points[1] - points[0])) + 4.0
        x0 = max(0, int(np.floor(points[:, 0].min() - reach)))
        y0 = max(0, int(np.floor(points[:, 1].min() - reach)))
        x1 = min(image.shape[1], int(np.ceil(points[:, 0].max() + reach)))
        y1 = min(image.shape[0], int(np.ceil(points[:, 1].max() + reach)))
        region = image[y0:y1, x0:x1]
        rgb = region if region.dtype == np.uint8 else (np.clip(region, 0, 1) * 255.0 + 0.5).astype(np.uint8)
        row = np.zeros((1, 15), np.float32)
        row[0, :4] = (x - x0, y - y0, w, h)
        row[0, 4:14] = (points - np.array([x0, y0], np.float32)).reshape(-1)
        return self._aligner.alignCrop(np.ascontiguousarray(rgb[:, :, ::-1]), row)

    def embed_crops(self, crops: list[np.ndarray]) -> np.ndarray:
        """L2-normalised embeddings (N×128) of 112×112 BGR crops."""
        # One crop per forward: batched forwards of this int8 graph through cv2.dnn give
        # wrong (at batch 2) or NaN (batch ≥ 8) features with OpenCV 4.14.
        feats = np.zeros((len(crops), 128), np.float32)
        for i, crop in enumerate(crops):
            blob = cv2.dnn.blobFromImage(crop, 1.0, (112, 112), (0, 0, 0), swapRB=True, crop=False)
            self._net.setInput(blob, "data")
            feats[i] = self._net.forward().reshape(-1)
        return feats / np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-12)

    def embed(self, image: np.ndarray, box, landmarks: np.ndarray) -> np.ndarray:
        return self.embed_crops([self.crop(image, box, landmarks)])[0]


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a = np.asarray(a, np.float32).ravel()
    b = np.asarray(b, np.float32).ravel()
    return float(np.dot(a, b) / max(float(np.linalg.norm(a) * np.linalg.norm(b)), 1e-12))


__all__ = ["IdentityEmbedder", "cosine", "SAME_PERSON_THRESHOLD", "YUNET_FILE", "SFACE_FILE"]
