"""Face restoration on the (super-resolved) frame, steady over time, with an identity check.

For each frame: YuNet finds faces and five landmarks; a tracker follows each face
and smooths its landmarks (``restore.faces.track``) so the aligned crop — and the
restored face pasted back — does not shake or flicker from frame to frame; the crop is
warped to the FFHQ five-point template, restored by our face model, blended with the
aligned input by ``fidelity``, and added back as a correction under a feathered mask.

Faces too small to restore (measured in the *source* frame's pixels: a 25-px face made
100 px by super-resolution still holds 25 px of information) and profiles are left
alone. Every face gets an identity score, the SFace cosine between the face the stage
received and the face it returns; below ``identity_threshold`` the face is reported
and, with ``keep_low_identity`` (the default), left unrestored.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import torch

from restore.faces.align import align_face, feather_mask, paste_back
from restore.faces.detect import FaceDetector, estimate_yaw, model_sha256
from restore.faces.identity import SAME_PERSON_THRESHOLD, IdentityEmbedder, cosine
from restore.faces.track import FaceTracker, TrackedFace
from restore.frame import Frame
from restore.pipeline.registry import register_stage
from restore.stages.base import FrameStage


@dataclass(frozen=True)
class FacesParams:
    weights: str = "restore-face-v1"
    # 0 = the model's face, 1 = the aligned input unchanged (CodeFormer's w, same sense)
    fidelity: float = field(default=0.3, metadata={"min": 0.0, "max": 1.0})
    min_face: int = field(default=32, metadata={"min": 8, "max": 1024})    # px, in source-frame pixels
    max_yaw: float = field(default=50.0, metadata={"min": 0.0, "max": 90.0})  # degrees; beyond: a profile
    detect_score: float = field(default=0.6, metadata={"min": 0.1, "max": 0.99})
    identity_threshold: float = field(default=SAME_PERSON_THRESHOLD, metadata={"min": -1.0, "max": 1.0})
    keep_low_identity: bool = True     # leave a face unrestored when its identity score is below threshold
    smoothing: float = field(default=1.0, metadata={"min": 0.0, "max": 4.0})  # 0 = raw landmarks per frame
    max_missed: int = field(default=2, metadata={"min": 0, "max": 25})  # frames a lost face keeps its landmarks
    # share of the previous frame's correction kept for the same face (in aligned
    # coordinates): damps detail the network invents differently on every frame
    temporal: float = field(default=0.3, metadata={"min": 0.0, "max": 0.9})


@dataclass
class _Face:
    frame: int                 # position in the batch
    tracked: TrackedFace
    facts: dict
    crop: np.ndarray | None = None
    inverse: np.ndarray | None = None


@register_stage
class Faces(FrameStage):
    name = "faces"
    Params = FacesParams

    def setup(self) -> None:
        from restore.models.registry import load_model

        self.model = load_model(self.params.weights, self.context.device)
        self.crop_size = int(self.model.card.get("crop_size", 128))
        # YuNet does best near the resolution it was trained for and misses very large
        # faces: detect on the frame shrunk back to about the source's size (faces below
        # min_face source pixels are skipped anyway).
        src = self.context.source_format
        working = max(640, max(src.width, src.height)) if src is not None else 1280
        self.detector = FaceDetector(score_threshold=self.params.detect_score, max_side=working)
        self.embedder = IdentityEmbedder()
        self.tracker = FaceTracker(smoothing=self.params.smoothing, max_missed=self.params.max_missed)
        self.mask = feather_mask(self.crop_size)
        self.counts: Counter = Counter()
        self.identities: list[float] = []
        self._reported_tracks: set[int] = set()
        self._previous: dict[int, tuple[np.ndarray, np.ndarray]] = {}   # track → (aligned crop, correction)

    def models(self) -> list[dict]:
        if not hasattr(self, "model"):
            return [{"name": self.params.weights}]
        return [
            {"name": self.model.name, "role": "face restoration", "sha256": self.model.sha256,
             "card_sha256": self.model.card_sha256, "card": self.model.card, "path": str(self.model.path)},
            {"name": "yunet-2023mar-int8 (face detection)", "sha256": model_sha256(str(self.detector.model_path))},
            {"name": "sface-2021dec-int8 (identity)", "sha256": model_sha256(str(self.embedder.model_path))},
        ]

    def _source_scale(self, frame: Frame) -> float:
        """Source pixels per pixel of the frame this stage receives."""
        src = self.context.source_format
        return src.width / frame.width if src is not None and frame.width else 1.0

    def _examine(self, frame: Frame, position: int) -> list[_Face]:
        detections = self.detector.detect(frame.image)
        tracked = self.tracker.update(detections, float(frame.pts))
        faces = []
        scale = self._source_scale(frame)
        for t in tracked:
            det = t.detection
            facts = {"track": t.track, "box": [round(v, 1) for v in det.box], "score": round(det.score, 3),
                     "identity": None, "restored": False}
            yaw = estimate_yaw(t.landmarks)
            source_size = det.size * scale
            if source_size < self.params.min_face:
                facts["skipped"] = f"small ({source_size:.0f} px in the source)"
                self.counts["skipped_small"] += 1
            elif abs(yaw) > self.params.max_yaw:
                facts["skipped"] = f"profile (yaw ≈ {yaw:.0f}°)"
                self.counts["skipped_profile"] += 1
            if t.coasting:
                facts["coasting"] = True
            faces.append(_Face(position, t, facts))
        return faces

    def _restore(self, crops: list[np.ndarray]) -> list[np.ndarray]:
        if not crops:
            return []
        x = torch.from_numpy(np.stack(crops).transpose(0, 3, 1, 2).copy()).to(self.context.device)
        with torch.no_grad():
            y = self.model.module(x).clamp(0, 1).cpu().numpy().transpose(0, 2, 3, 1)
        out = []
        for crop, restored in zip(crops, y):
            # black-and-white film stays black and white, whatever the network leans to
            if float(np.abs(crop - crop.mean(axis=2, keepdims=True)).max()) < 2e-3:
                restored = np.repeat(restored.mean(axis=2, keepdims=True), 3, axis=2)
            out.append(restored.astype(np.float32))
        return out

    def process_batch(self, frames: list[Frame]) -> list[Frame]:
        faces: list[_Face] = []
        for position, frame in enumerate(frames):
            faces.extend(self._examine(frame, position))
        todo = [f for f in faces if "skipped" not in f.facts]
        for face in todo:
            aligned = align_face(frames[face.frame].image, face.tracked.landmarks, self.crop_size)
            face.crop, face.inverse = aligned.crop, aligned.inverse
        restored = self._restore([f.crop for f in todo])
        keep = 1.0 - self.params.fidelity
        images = [frame.image for frame in frames]
        for face, out in zip(todo, restored):
            correction = self._steady(face, keep * (out - face.crop))
            source = images[face.frame]
            candidate = paste_back(source, correction, face.inverse, self.mask, additive=True)
            np.clip(candidate, 0.0, 1.0, out=candidate)
            det, lm = face.tracked.detection, face.tracked.landmarks
            identity = cosine(self.embedder.embed(source, det.box, lm), self.embedder.embed(candidate, det.box, lm))
            face.facts["identity"] = round(identity, 4)
            self.identities.append(identity)
            if identity < self.params.identity_threshold:
                self.counts["low_identity"] += 1
                if face.tracked.track not in self._reported_tracks:
                    self._reported_tracks.add(face.tracked.track)
                    self.context.emit(stage=self.name, event="low_identity", frame=frames[face.frame].index,
                                      track=face.tracked.track, identity=round(identity, 4),
                                      left_unrestored=self.params.keep_low_identity)
                if self.params.keep_low_identity:
                    continue
            images[face.frame] = candidate
            face.facts["restored"] = True
            self.counts["restored"] += 1
        out_frames = []
        for position, frame in enumerate(frames):
            result = frame.with_image(images[position])
            result.notes["faces"] = [f.facts for f in faces if f.frame == position]
            self.counts["faces"] += len(result.notes["faces"])
            self.counts["frames"] += 1
            out_frames.append(result)
        return out_frames

    def _steady(self, face: _Face, correction: np.ndarray) -> np.ndarray:
        """Blend with the same face's previous correction, both in aligned coordinates.

        Head motion does not matter there (the crops are aligned); a change of content
        does (a cut, a turn, a hand): then the previous correction is dropped.
        """
        track = face.tracked.track
        previous = self._previous.get(track)
        if previous is not None and self.params.temporal > 0:
            if float(np.abs(previous[0] - face.crop).mean()) < 0.06:
                correction = (1 - self.params.temporal) * correction + self.params.temporal * previous[1]
        self._previous[track] = (face.crop, correction)
        alive = {t.id for t in self.tracker.tracks}
        for gone in [k for k in self._previous if k not in alive]:
            del self._previous[gone]
        return correction

    def close(self) -> None:
        if not hasattr(self, "counts") or not self.counts.get("frames"):
            return
        ids = np.array(self.identities, np.float64)
        self.context.emit(
            stage=self.name, event="summary", frames=self.counts["frames"], faces=self.counts["faces"],
            tracks=self.tracker._next_id, restored=self.counts["restored"],
            skipped_small=self.counts["skipped_small"], skipped_profile=self.counts["skipped_profile"],
            low_identity=self.counts["low_identity"],
            identity_mean=round(float(ids.mean()), 4) if ids.size else None,
            identity_min=round(float(ids.min()), 4) if ids.size else None)
