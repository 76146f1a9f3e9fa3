"""The face panel: every face track, its source and restored crops, identity over time.

Faces come from the run's per-frame sidecar when there is one (what the faces
stage saw and scored). Without it (``restore compare`` on two files), faces are
detected in AFTER on every Nth frame and the identity of the restored face is
scored against the source face at the same place with SFace, when
``restore.faces`` can be imported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from restore.review.align import Alignment, Pair

SAME_PERSON = 0.363          # SFace cosine at which OpenCV Zoo calls two faces the same person
MIN_SOURCE_FACE = 30         # pixels: no model recognises smaller faces, so no identity is claimed
CROP_HEIGHT = 112
MAX_CROPS_PER_TRACK = 16


@dataclass
class _Track:
    id: int
    points: list = field(default_factory=list)      # [after_index, identity or None]
    crops: list = field(default_factory=list)       # {"frame", "source", "restored", "identity"}
    stride: int = 1
    seen: int = 0
    skipped: dict = field(default_factory=dict)

    def summary(self, threshold: float) -> dict:
        scores = [s for _, s in self.points if s is not None]
        low = min(scores) if scores else None
        return {"track": self.id, "first": self.points[0][0], "last": self.points[-1][0],
                "frames": len(self.points), "identity_min": _r(low),
                "identity_mean": _r(float(np.mean(scores)) if scores else None),
                "below_threshold": low is not None and low < threshold,
                "frames_below": sum(1 for s in scores if s < threshold),
                "skipped": self.skipped, "points": self.points, "crops": self.crops}


def _r(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)


class FacePanel:
    def __init__(self, out_dir: Path, alignment: Alignment, every: int, threshold: float = SAME_PERSON,
                 detect: bool = True):
        self.dir = out_dir / "faces"
        self.alignment = alignment
        self.every = max(1, every)
        self.threshold = threshold
        self.tracks: dict[int, _Track] = {}
        self.source = "sidecar" if alignment.frames_log else "none"
        self._detector = self._embedder = self._tracker = None
        if alignment.frames_log is None and detect:
            from restore.faces.detect import FaceDetector
            from restore.faces.identity import IdentityEmbedder
            from restore.faces.track import FaceTracker

            try:
                self._detector, self._embedder = FaceDetector(), IdentityEmbedder()
            except Exception as exc:  # models not shipped in this environment: no panel rather than no report
                self._detector = self._embedder = None
                self.source = f"none: the face models could not be loaded ({exc})"
            else:
                # the tracker sees every Nth frame only: allow a larger jump between looks
                self._tracker = FaceTracker(smoothing=0.0)
                self.source = f"detected in AFTER every {self.every} frames (YuNet, SFace identity)"

    @property
    def scale(self) -> tuple[float, float]:
        """AFTER pixels → BEFORE pixels."""
        a, b = self.alignment.after, self.alignment.before
        return b.width / a.width, b.height / a.height

    def add(self, pair: Pair) -> list[dict]:
        """This frame's faces as {"track", "box", "identity"} (AFTER pixels)."""
        if self.alignment.frames_log is not None:
            faces = [f for f in (pair.log.get("notes") or {}).get("faces") or [] if "track" in f and f.get("box")]
        elif self._detector is not None and pair.after_index % self.every == 0:
            faces = self._detect(pair)
        else:
            faces = []
        for face in faces:
            self._record(pair, face)
        return faces

    def _detect(self, pair: Pair) -> list[dict]:
        detections = self._detector.detect(pair.after)
        tracked = self._tracker.update(detections, float(pair.pts))
        sx, sy = self.scale
        out = []
        for t in tracked:
            if t.coasting:
                continue
            det = t.detection
            face = {"track": t.track, "box": [round(v, 1) for v in det.box], "score": round(det.score, 3),
                    "identity": None}
            if det.size * min(sx, sy) < MIN_SOURCE_FACE:
                face["skipped"] = "small"
            else:
                restored = self._embedder.embed(pair.after, det.box, det.landmarks)
                box = (det.box[0] * sx, det.box[1] * sy, det.box[2] * sx, det.box[3] * sy)
                source = self._embedder.embed(pair.before, box, det.landmarks * np.array([sx, sy], np.float32))
                face["identity"] = round(float(np.dot(restored, source)), 4)
            out.append(face)
        return out

    def _record(self, pair: Pair, face: dict) -> None:
        track = self.tracks.setdefault(int(face["track"]), _Track(int(face["track"])))
        identity = face.get("identity")
        track.points.append([pair.after_index, None if identity is None else round(float(identity), 4)])
        if face.get("skipped"):
            reason = str(face["skipped"]).split(" ")[0]
            track.skipped[reason] = track.skipped.get(reason, 0) + 1
        if track.seen % track.stride == 0:
            track.crops.append(self._save_crops(track.id, pair, face["box"], identity))
            if len(track.crops) >= MAX_CROPS_PER_TRACK:
                # keep the panel bounded on long tracks: thin the crops evenly, look half as often
                for dropped in track.crops[1::2]:
                    for key in ("source", "restored"):
                        (self.dir.parent / dropped[key]).unlink(missing_ok=True)
                track.crops = track.crops[0::2]
                track.stride *= 2
        track.seen += 1

    def _save_crops(self, track_id: int, pair: Pair, box, identity) -> dict:
        self.dir.mkdir(parents=True, exist_ok=True)
        x, y, w, h = (float(v) for v in box)
        margin = 0.25 * max(w, h)
        ah, aw = pair.after.shape[:2]
        x0, y0 = max(0, int(x - margin)), max(0, int(y - margin))
        x1, y1 = min(aw, int(x + w + margin) + 1), min(ah, int(y + h + margin) + 1)
        sx, sy = self.scale
        restored = pair.after[y0:y1, x0:x1]
        source = pair.before[int(y0 * sy):max(int(y1 * sy), int(y0 * sy) + 1),
                             int(x0 * sx):max(int(x1 * sx), int(x0 * sx) + 1)]
        size = (max(1, round(CROP_HEIGHT * restored.shape[1] / max(1, restored.shape[0]))), CROP_HEIGHT)
        names = {}
        for key, crop in (("source", source), ("restored", restored)):
            small = cv2.resize(crop, size, interpolation=cv2.INTER_AREA if crop.shape[0] > CROP_HEIGHT
                               else cv2.INTER_CUBIC)
            name = f"faces/t{track_id}_{pair.after_index:06d}_{key[:3]}.jpg"
            cv2.imwrite(str(self.dir.parent / name), cv2.cvtColor(_to_uint8(small), cv2.COLOR_RGB2BGR),
                        [cv2.IMWRITE_JPEG_QUALITY, 85])
            names[key] = name
        return {"frame": pair.after_index, **names,
                "identity": None if identity is None else round(float(identity), 4)}

    def summary(self) -> list[dict]:
        return [t.summary(self.threshold) for t in sorted(self.tracks.values(), key=lambda t: t.id)]
