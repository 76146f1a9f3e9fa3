"""Face restoration on the (super-resolved) frame, steady along each track, true to each person.

For each frame: YuNet finds faces and five landmarks; a tracker follows each face and
smooths its landmarks (``restore.faces.track``) so the aligned crop does not shake; the
crop is warped to the FFHQ five-point template, restored by our face model and blended
with the aligned input by ``fidelity``. The restored face (in aligned coordinates) is averaged
along the track where the face holds still, over the frames before each frame and ``lookahead``
frames after it (``restore.faces.steady``: ``temporal``; the stage holds those frames back), and
the resulting correction is added back under a feathered mask through a bicubic warp (a bilinear
one would low-pass the correction, which is mostly fine detail).

Faces too small to restore (measured in the *source* frame's pixels: a 25-px face made
100 px by super-resolution still holds 25 px of information) and profiles are left alone.

Identity gates, all with SFace (``restore.faces.identity``), each face every frame:

* **stranger** (``identity_threshold``, 0.363): the restored face is no longer the same
  person as the face received → reported and, with ``keep_low_identity``, left unrestored;
* **drift** (``max_drift``): the restored face moved further from the face received than
  a genuine restoration does (1 − cosine above ``max_drift``; calibrated on held-out
  people, see the README) → the correction is weakened (½, ¼) until it is back within
  ``max_drift``, or the face is left unrestored; a track that drifted recovers one step
  per frame, so a face never blinks between restored and unrestored;
* **reference** (``reference``: a folder of licensed portraits of the subject): on tracks
  that look like the reference person, a restored face must not be further from the
  reference than the face received was (``reference_margin``).

Every decision is in the frame's facts (``faces`` notes), a warning event per track, and
the stage's summary in ``describe()`` (hence the provenance record).
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch

from restore.errors import StageError, UserError
from restore.faces.align import align_face, feather_mask, paste_back
from restore.faces.detect import FaceDetector, estimate_yaw, model_sha256
from restore.faces.identity import SAME_PERSON_THRESHOLD, IdentityEmbedder, cosine
from restore.faces.steady import Look, TrackSmoother
from restore.faces.track import FaceTracker, TrackedFace
from restore.frame import Frame
from restore.pipeline.registry import register_stage
from restore.stages.base import FrameStage, batches

# 1 − SFace cosine(restored, received) above which a restoration is taken to have moved
# the person. Calibrated with `python -m benchmarks faces` on 114 held-out faces at
# SD-television size (README, "Identity gates"): the same face under a fresh draw of its
# noise moves by up to 0.09 (p99), so a restoration may change the face as much as its own
# noise does, not more. Genuine restorations stay below 0.013 (p99, restore-face-v1), 0.037
# (p99, restore-face-v3 after restore-vsr-x2-v5), 0.045 (p99, restore-face-v4) and 0.047 (p99, restore-face-v5);
# faces blended half-way to another person are above it in 94 % of cases, a quarter of
# the way in 57 %.
DEFAULT_MAX_DRIFT = 0.1
# The reference gate's allowance. A genuine restoration moves SFace's cosine to another portrait of
# the same person by noise as well as signal: at 0 the gate held back 12 % of genuine restorations
# of training-split people (closer to their truth in PSNR-Y and SFace) with restore-face-v5 (v4: 14 %),
# at 0.01 2.5 % (v4: 2.5 %), while still holding back 39 % of the others (v4: 44 %;
# python -m benchmarks reference_gate, 528 restorations of 88 people).
DEFAULT_REFERENCE_MARGIN = 0.01
# Strengths tried, in order, when a restoration drifts (the correction is scaled down).
FALLBACK_STRENGTHS = (1.0, 0.5, 0.25)


@dataclass(frozen=True)
class FacesParams:
    # trained on the output of restore-vsr-x2-v5 (the presets' SR) at the resolution faces have there
    weights: str = "restore-face-v5"
    # 0 = the model's face, 1 = the aligned input unchanged (CodeFormer's w, same sense). 0 by default:
    # restore-face-v5 is trained for fidelity (L1, no adversarial loss), its output is its best estimate
    # of the truth; a generative model (or restore-face-v1, made for 0.3) wants some of the input kept.
    fidelity: float = field(default=0.0, metadata={"min": 0.0, "max": 1.0})
    min_face: int = field(default=32, metadata={"min": 8, "max": 1024})    # px, in source-frame pixels
    max_yaw: float = field(default=50.0, metadata={"min": 0.0, "max": 90.0})  # degrees; beyond: a profile
    detect_score: float = field(default=0.6, metadata={"min": 0.1, "max": 0.99})
    identity_threshold: float = field(default=SAME_PERSON_THRESHOLD, metadata={"min": -1.0, "max": 1.0})
    keep_low_identity: bool = True     # leave a face unrestored when its identity score is below threshold
    # 1 − cosine(restored, received) allowed; 2 turns the drift gate off
    max_drift: float = field(default=DEFAULT_MAX_DRIFT, metadata={"min": 0.0, "max": 2.0})
    drift_fallback: bool = True        # weaken a drifting correction (½, ¼) before leaving the face alone
    smoothing: float = field(default=1.0, metadata={"min": 0.0, "max": 4.0})  # 0 = raw landmarks per frame
    max_missed: int = field(default=2, metadata={"min": 0, "max": 25})  # frames a lost face keeps its landmarks
    # weight of the track's running correction where the face is still (0 = a fresh
    # correction every frame): damps detail the network invents differently on every frame
    temporal: float = field(default=0.7, metadata={"min": 0.0, "max": 0.95})
    # local change of the aligned face (0–1) beyond which the running correction is not used there
    temporal_motion: float = field(default=0.03, metadata={"min": 0.005, "max": 0.5})
    # what the track averages where the face is still: the restored face (its level following the
    # frame's), so the network's invention and the frame's own noise are both steadied; or only the
    # correction, which carries each frame's noise back onto the face (it boiled more than per-frame
    # restoration: benchmarks faces, "output flicker")
    temporal_average: Literal["face", "correction"] = "face"
    # later frames of the track averaged in too (the stage holds this many frames back): a causal
    # average lags behind every motion and holds nothing on a track's first frames
    lookahead: int = field(default=2, metadata={"min": 0, "max": 8})
    reference: str | None = None       # folder of portraits of the subject, with MANIFEST.tsv
    # a track is the reference person when its faces' mean SFace cosine to the reference reaches this
    reference_match: float = field(default=0.25, metadata={"min": -1.0, "max": 1.0})
    # how much further from the reference (SFace cosine) the restored face may be than the
    # received one; SFace's own noise on genuine restorations is about this size (DEFAULT_REFERENCE_MARGIN)
    reference_margin: float = field(default=DEFAULT_REFERENCE_MARGIN, metadata={"min": 0.0, "max": 1.0})


@dataclass
class _Face:
    tracked: TrackedFace
    facts: dict
    crop: np.ndarray | None = None
    inverse: np.ndarray | None = None
    look: Look | None = None   # the track's smoother on this frame (None: not restored)


@dataclass
class _Seen:
    """A frame whose faces are restored, waiting for the frames after it (``lookahead``)."""

    frame: Frame
    faces: list[_Face]


@dataclass
class _TrackGate:
    level: int = 0             # index into the strengths used on the track's last frame (len = unrestored)
    reported: bool = False
    frames: int = 0
    source_ref: float = 0.0    # sums of cosine to the reference, received and returned faces
    output_ref: float = 0.0

    def matches(self, threshold: float) -> bool:
        return self.frames > 0 and self.source_ref / self.frames >= threshold


@register_stage
class Faces(FrameStage):
    name = "faces"
    Params = FacesParams
    # the tracker, the running correction and the gate levels carry state from frame to
    # frame: a batch segment starts this many frames early so its first frame sees the same
    warmup = 12
    summary: dict | None = None    # what the run did (set by run); None before it

    def __init__(self, params: FacesParams, context):
        super().__init__(params, context)
        # the frames after the present one the track's average reads: a segment reads them too
        self.radius = params.lookahead if params.temporal > 0 else 0

    @classmethod
    def check_params(cls, params: FacesParams):
        if params.reference:
            from restore.faces.reference import read_reference

            try:
                read_reference(params.reference)
            except UserError as exc:
                return "reference", str(exc)
        return None

    @classmethod
    def pipeline_notes(cls, params: FacesParams, earlier: list) -> list[str]:
        """A face model trained on one SR model's output (``cascade`` in its card) that follows another SR
        model, or none, is used outside what it learned: the record says so."""
        from restore.models.registry import weights_facts

        try:
            facts = weights_facts(params.weights)
        except Exception:   # a missing file is check_params' to report
            return []
        follows = (facts.card or {}).get("cascade")
        if not follows:
            return []
        sr = [s for s in earlier if s.name == "superres"]
        if sr:
            try:
                got = weights_facts(sr[-1].params.weights)
            except Exception:
                return []
            if got.sha256 == follows.get("sr_sha256"):
                return []
            here = f"follows {got.name}"
        else:
            here = "follows no super-resolution"
        return [f"faces: {facts.name} learned to correct the output of {follows.get('sr_weights')}; here it "
                f"{here}, so its input is not what it was trained on (measure before trusting it)"]

    def setup(self) -> None:
        from restore.models.registry import load_model

        self.model = load_model(self.params.weights, self.context.device)
        # channels-last: oneDNN's convolutions run about a third faster that way on a CPU
        # (restore-face-v5 on a 256² crop, 2 cores: 0.27 → 0.19 s)
        self.model.module.to(memory_format=torch.channels_last)
        self.crop_size = int(self.model.card.get("crop_size", 128))
        # YuNet does best near the resolution it was trained for and misses very large
        # faces: detect on the frame shrunk back to about the source's size (faces below
        # min_face source pixels are skipped anyway).
        src = self.context.source_format
        working = max(640, max(src.width, src.height)) if src is not None else 1280
        self.detector = FaceDetector(score_threshold=self.params.detect_score, max_side=working)
        self.embedder = IdentityEmbedder()
        self.tracker = FaceTracker(smoothing=self.params.smoothing, max_missed=self.params.max_missed)
        self.smoother = TrackSmoother(strength=self.params.temporal, motion=self.params.temporal_motion,
                                          average=self.params.temporal_average)
        self.mask = feather_mask(self.crop_size)
        self.counts: Counter = Counter()
        self.identities: list[float] = []
        self.gates: dict[int, _TrackGate] = {}
        self.strengths = FALLBACK_STRENGTHS if self.params.drift_fallback else FALLBACK_STRENGTHS[:1]
        self.reference = None
        if self.params.reference:
            from restore.faces.reference import Reference

            self.reference = Reference(self.params.reference)
            self.reference.load(FaceDetector(score_threshold=0.5), self.embedder)
        self.summary: dict | None = None

    def models(self) -> list[dict]:
        from restore.faces.detect import SFACE_FILE, YUNET_FILE, packaged_model
        from restore.models.registry import weights_facts

        # before setup, the facts come from the card and the files: asking does not load a model
        m = getattr(self, "model", None) or weights_facts(self.params.weights)
        return [
            {"name": m.name, "role": "face restoration", "sha256": m.sha256,
             "card_sha256": m.card_sha256, "card": m.card, "path": str(m.path)},
            {"name": "yunet-2023mar-int8 (face detection)", "sha256": model_sha256(str(packaged_model(YUNET_FILE)))},
            {"name": "sface-2021dec-int8 (identity)", "sha256": model_sha256(str(packaged_model(SFACE_FILE)))},
        ]

    def describe(self) -> dict:
        d = super().describe()
        if self.params.reference:
            reference = getattr(self, "reference", None)
            if reference is None:
                from restore.faces.reference import Reference

                reference = Reference(self.params.reference)
            d["reference"] = reference.describe()
        d["summary"] = self.summary
        return d

    def _source_scale(self, frame: Frame) -> float:
        """Source pixels per pixel of the frame this stage receives."""
        src = self.context.source_format
        return src.width / frame.width if src is not None and frame.width else 1.0

    def _examine(self, frame: Frame) -> list[_Face]:
        detections = self.detector.detect(frame.image)
        tracked = self.tracker.update(detections, float(frame.pts))
        faces = []
        scale = self._source_scale(frame)
        for t in tracked:
            det = t.detection
            facts = {"track": t.track, "box": [round(v, 1) for v in det.box], "score": round(det.score, 3),
                     "landmarks": np.round(t.landmarks, 1).tolist(), "identity": None, "restored": False}
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
            faces.append(_Face(t, facts))
        return faces

    def _restore(self, crops: list[np.ndarray]) -> list[np.ndarray]:
        if not crops:
            return []
        x = torch.from_numpy(np.stack(crops).transpose(0, 3, 1, 2).copy()).to(self.context.device)
        x = x.contiguous(memory_format=torch.channels_last)
        with torch.no_grad():
            y = self.model.module(x).clamp(0, 1).cpu().numpy().transpose(0, 2, 3, 1)
        out = []
        for crop, restored in zip(crops, y):
            # black-and-white film stays black and white, whatever the network leans to
            if float(np.abs(crop - crop.mean(axis=2, keepdims=True)).max()) < 2e-3:
                restored = np.repeat(restored.mean(axis=2, keepdims=True), 3, axis=2)
            out.append(restored.astype(np.float32))
        return out

    def _see(self, frames: list[Frame]) -> list[_Seen]:
        """Detect, track, align and restore the faces of a batch, and take each into its track's
        causal average; the frames are finished (gated, pasted) once their look-ahead is seen."""
        seen = [_Seen(frame, self._examine(frame)) for frame in frames]
        todo = [(s.frame, f) for s in seen for f in s.faces if "skipped" not in f.facts]
        for frame, face in todo:
            aligned = align_face(frame.image, face.tracked.landmarks, self.crop_size)
            face.crop, face.inverse = aligned.crop, aligned.inverse
        keep = 1.0 - self.params.fidelity
        for (_, face), out in zip(todo, self._restore([f.crop for _, f in todo])):
            face.look = self.smoother.observe(face.tracked.track, face.crop, keep * (out - face.crop))
        self.smoother.forget({t.id for t in self.tracker.tracks})
        return seen

    def _finish_frame(self, present: _Seen, after: list[_Seen]) -> Frame:
        """``present`` with each face restored from its track's average over the frames around it."""
        image = present.frame.image
        for face in present.faces:
            if face.look is None:
                continue
            track = face.tracked.track
            future = [f.look for s in after for f in s.faces if f.tracked.track == track and f.look is not None]
            correction = self.smoother.settle(face.look, future, face.crop)
            result = self._gate(face, image, correction, present.frame.index)
            if result is not None:
                image = result
        out = present.frame.with_image(image)
        out.notes["faces"] = [f.facts for f in present.faces]
        self.counts["faces"] += len(present.faces)
        self.counts["frames"] += 1
        return out

    def run(self, frames: Iterator[Frame]) -> Iterator[Frame]:
        """Frames in order, each finished once the ``lookahead`` frames after it are restored: the
        stage holds at most a batch plus ``lookahead`` frames, whatever the clip's length."""
        waiting: deque[_Seen] = deque()

        def finish() -> Frame:
            present = waiting.popleft()
            try:
                return self._finish_frame(present, list(waiting)[: self.radius])
            except StageError:
                raise
            except Exception as exc:  # the job must stop with the stage name and frame number
                raise StageError(self.name, present.frame.index, exc) from exc

        for batch in batches(frames, self.context.batch_size):
            try:
                waiting.extend(self._see(batch))
            except StageError:
                raise
            except Exception as exc:
                where = f" (batch of frames {batch[0].index}–{batch[-1].index})" if len(batch) > 1 else ""
                raise StageError(self.name, batch[0].index, f"{exc}{where}") from exc
            while len(waiting) > self.radius:
                yield finish()
        while waiting:
            yield finish()

    def process_batch(self, frames: list[Frame]) -> list[Frame]:
        """The batch finished at once: its last frames see only the look-ahead the batch holds."""
        return list(self.run(iter(frames)))

    def _paste(self, source: np.ndarray, correction: np.ndarray, inverse: np.ndarray) -> np.ndarray:
        candidate = paste_back(source, correction, inverse, self.mask, additive=True)
        return np.clip(candidate, 0.0, 1.0, out=candidate)

    def _gate(self, face: _Face, source: np.ndarray, correction: np.ndarray, index: int) -> np.ndarray | None:
        """The frame with this face restored as strongly as the identity gates allow (None: left alone)."""
        track = face.tracked.track
        gate = self.gates.setdefault(track, _TrackGate())
        det, lm = face.tracked.detection, face.tracked.landmarks
        facts = face.facts
        received = self.embedder.embed(source, det.box, lm)
        full = self._paste(source, correction, face.inverse)
        full_embedding = self.embedder.embed(full, det.box, lm)
        identity = cosine(received, full_embedding)
        facts["identity"] = round(identity, 4)
        facts["drift"] = round(1.0 - identity, 4)
        self.identities.append(identity)

        source_ref = None
        if self.reference is not None:
            source_ref = cosine(received, self.reference.embedding)
            gate.frames += 1
            gate.source_ref += source_ref
            facts["reference"] = {"received": round(source_ref, 4)}
        on_reference = self.reference is not None and gate.matches(self.params.reference_match)

        if identity < self.params.identity_threshold:
            # the old gate: a stranger, whatever the drift gate says
            self.counts["low_identity"] += 1
            facts["gate"] = "low_identity"
            self._warn(gate, "low_identity", index, track, identity=round(identity, 4),
                       left_unrestored=self.params.keep_low_identity,
                       message=(f"frame {index}, face track {track}: restored face is another person "
                                f"(SFace {identity:.3f} < {self.params.identity_threshold}); "
                                + ("left unrestored" if self.params.keep_low_identity else "kept anyway")))
            if self.params.keep_low_identity:
                gate.level = len(self.strengths)
                return self._finish(face, gate, 0.0, None, source_ref)
            return self._finish(face, gate, 1.0, full_embedding, source_ref, full)

        # a track that drifted comes back one step per frame (never blinks on and off)
        start = max(0, min(gate.level, len(self.strengths)) - 1)
        reasons: list[str] = []
        chosen = None
        for level in range(start, len(self.strengths)):
            strength = self.strengths[level]
            if strength == 1.0:
                candidate, embedding, score = full, full_embedding, identity
            else:
                candidate = self._paste(source, strength * correction, face.inverse)
                embedding = self.embedder.embed(candidate, det.box, lm)
                score = cosine(received, embedding)
            if 1.0 - score > self.params.max_drift:
                reasons.append("drift")
            elif on_reference and (cosine(embedding, self.reference.embedding)
                                   < source_ref - self.params.reference_margin):
                reasons.append("reference")
            else:
                chosen = (level, strength, embedding, candidate, score)
                break
        if chosen is None:
            gate.level = len(self.strengths)
            facts["gate"] = reasons[0]
            self.counts[f"{reasons[0]}_unrestored"] += 1
            self._report_drift(gate, reasons[0], index, track, identity, "left unrestored")
            return self._finish(face, gate, 0.0, None, source_ref)
        level, strength, embedding, candidate, score = chosen
        gate.level = level
        if level > 0:
            facts["gate"] = reasons[0] if reasons else "recovering"
            facts["identity_out"] = round(score, 4)
            self.counts["partial"] += 1
            if reasons:
                self._report_drift(gate, reasons[0], index, track, identity, f"restored at strength {strength:g}")
        return self._finish(face, gate, strength, embedding, source_ref, candidate)

    def _finish(self, face: _Face, gate: _TrackGate, strength: float, embedding, source_ref,
                candidate: np.ndarray | None = None) -> np.ndarray | None:
        facts = face.facts
        facts["strength"] = strength
        if strength > 0:
            facts["restored"] = True
            self.counts["restored"] += 1
        if source_ref is not None:
            out_ref = cosine(embedding, self.reference.embedding) if embedding is not None else source_ref
            gate.output_ref += out_ref
            facts["reference"]["returned"] = round(out_ref, 4)
            facts["reference"]["track_matches"] = gate.matches(self.params.reference_match)
        return candidate if strength > 0 else None

    def _report_drift(self, gate: _TrackGate, reason: str, index: int, track: int, identity: float,
                      outcome: str) -> None:
        if reason == "drift":
            what = (f"moved away from the face received (SFace {identity:.3f}: drift {1 - identity:.3f} "
                    f"> {self.params.max_drift:g} allowed)")
        else:
            what = "moved further from the reference person than the face received"
        self._warn(gate, f"identity_{reason}", index, track, identity=round(identity, 4), outcome=outcome,
                   message=f"frame {index}, face track {track}: the restoration {what}; {outcome}")

    def _warn(self, gate: _TrackGate, event: str, index, track: int, **facts) -> None:
        """One warning per track (the per-frame facts hold every occurrence)."""
        if gate.reported:
            return
        gate.reported = True
        self.context.emit(stage=self.name, event=event, frame=index, track=track, **facts)

    def close(self) -> None:
        if not hasattr(self, "counts") or not self.counts.get("frames"):
            return
        ids = np.array(self.identities, np.float64)
        summary = {
            "frames": self.counts["frames"], "faces": self.counts["faces"], "tracks": self.tracker._next_id,
            "restored": self.counts["restored"], "partial": self.counts["partial"],
            "skipped_small": self.counts["skipped_small"], "skipped_profile": self.counts["skipped_profile"],
            "low_identity": self.counts["low_identity"], "drift_unrestored": self.counts["drift_unrestored"],
            "reference_unrestored": self.counts["reference_unrestored"],
            "identity_mean": round(float(ids.mean()), 4) if ids.size else None,
            "identity_min": round(float(ids.min()), 4) if ids.size else None,
            "max_drift": self.params.max_drift,
        }
        if self.reference is not None:
            summary["reference_tracks"] = [
                {"track": t, "frames": g.frames, "received_mean": round(g.source_ref / g.frames, 4),
                 "returned_mean": round(g.output_ref / g.frames, 4),
                 "is_reference_person": g.matches(self.params.reference_match)}
                for t, g in sorted(self.gates.items()) if g.frames]
        self.summary = summary
        self.context.emit(stage=self.name, event="summary", **summary)
        if self.reference is not None and summary["reference_tracks"]:
            tracks = summary["reference_tracks"]
            matched = [t["track"] for t in tracks if t["is_reference_person"]]
            self.context.emit(stage=self.name, event="reference_tracks", matched=matched,
                              message=f"{len(matched)} of {len(tracks)} face tracks look like the reference person"
                                      + (f" (tracks {', '.join(map(str, matched))})" if matched else "")
                                      + "; the reference gate applies to those only")
