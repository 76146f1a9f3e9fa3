"""Operator corrections: what a person decided about the restoration, as data, and the step that applies it.

A conservator reviewing a restored film can overrule it on a frame or a range of frames. Each
decision is a *correction*, stored in a versioned JSON document beside the job
(``corrections.json``, format ``restore-corrections`` version 1) with who made it, when and why:

* ``keep_source`` — a painted mask (a PNG the size of the output frame, in ``masks/``, named by its
  sha256): under it the restoration is undone and the source's pixels are put back.
* ``reject_face`` — a face track the operator does not accept: on each frame of the track, the face's
  box (from ``OUTPUT.frames.jsonl``, copied into the correction when it is made) gets the source back,
  so that face is left unrestored.
* ``dust`` — a painted mask over dirt the automatic pass missed: inpainted from its surroundings.
* ``strength`` — a stage's strength for a shot (``stage``, ``strength``): the segments holding the shot
  are run a second time through the pipeline with that stage's ``strength`` changed (the same frames,
  overlap and warm-up, so the shot's frames are those of a whole run at that strength), and the shot's
  frames are taken from that run (:func:`run_with_strengths`).

Frame numbers are the OUTPUT's (``frames: [first, last]``, inclusive). Corrections are applied by
:class:`Applier` as the last step of a run, after the last stage and before the encoder, so no stage
sees them and the per-segment journal can tell which segments a change touches: a re-run redoes only
those (``restore.batch.segments``). Every correction applied becomes a PREMIS event and a C2PA action
in the output's provenance (``record["corrections"]``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from restore.errors import UserError

FORMAT = "restore-corrections"
VERSION = 1
KINDS = ("keep_source", "reject_face", "dust", "strength")
APPLIED = KINDS                                      # every kind changes the output's pixels
DESCRIPTIONS = {
    "keep_source": "keep the source under a painted region (the restoration is undone there)",
    "reject_face": "reject a face track (the face is left unrestored)",
    "dust": "remove dust the automatic pass missed (inpainted from its surroundings)",
    "strength": "change a stage's strength for a shot (that stage run again at this strength there)",
}
PIXEL_KINDS = ("keep_source", "reject_face", "dust")   # applied to the finished frame by the Applier
# the fields that decide pixels: a segment whose corrections differ in any of them is redone
_PIXEL_FIELDS = ("id", "kind", "frames", "mask_sha256", "boxes", "stage", "strength", "feather")


class CorrectionError(UserError):
    """A correction document or entry that cannot be applied as it is."""


def empty_document(job: str | None = None) -> dict:
    return {"format": FORMAT, "version": VERSION, "job": job, "revision": 0, "corrections": [], "history": []}


def check_document(doc: dict) -> dict:
    """Validate a corrections document (raises CorrectionError naming the entry)."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise CorrectionError(f"not a {FORMAT} document")
    if doc.get("version") != VERSION:
        raise CorrectionError(f"unsupported {FORMAT} version {doc.get('version')!r} (this restore reads {VERSION})")
    items = doc.get("corrections")
    if not isinstance(items, list):
        raise CorrectionError("corrections: expected a list")
    seen = set()
    for n, item in enumerate(items):
        where = f"corrections[{n}]"
        if not isinstance(item, dict):
            raise CorrectionError(f"{where}: expected a mapping")
        if item.get("kind") not in KINDS:
            raise CorrectionError(f"{where}.kind: expected one of {', '.join(KINDS)}")
        if not item.get("id") or item["id"] in seen:
            raise CorrectionError(f"{where}.id: missing or repeated")
        seen.add(item["id"])
        frames = item.get("frames")
        if (not isinstance(frames, list) or len(frames) != 2 or not all(isinstance(f, int) for f in frames)
                or frames[0] < 0 or frames[1] < frames[0]):
            raise CorrectionError(f"{where}.frames: expected [first, last] output frame numbers, first ≤ last")
        if item["kind"] in ("keep_source", "dust") and not (item.get("mask") and item.get("mask_sha256")):
            raise CorrectionError(f"{where}: a {item['kind']} correction needs a mask and its sha256")
        if item["kind"] == "reject_face" and not isinstance(item.get("boxes"), dict):
            raise CorrectionError(f"{where}.boxes: expected the track's box per frame")
        if item["kind"] == "strength" and not (item.get("stage") and isinstance(item.get("strength"), (int, float))):
            raise CorrectionError(f"{where}: a strength correction needs a stage and a strength")
        for key in ("who", "when"):
            if not item.get(key):
                raise CorrectionError(f"{where}.{key}: every correction says who made it and when")
    return doc


def load_document(path: Path) -> dict:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CorrectionError(f"{path}: cannot read the corrections ({exc})") from None
    return check_document(doc)


def active(doc: dict) -> list[dict]:
    return [c for c in doc.get("corrections") or [] if c.get("active", True)]


def overlapping(corrections: Iterable[dict], first: int, last: int) -> list[dict]:
    """Corrections whose frames meet [first, last]."""
    return [c for c in corrections if c["frames"][0] <= last and c["frames"][1] >= first]


def digest(corrections: list[dict]) -> str | None:
    """What decides a segment's pixels, as one hash (None without corrections: journals written before
    corrections existed stay valid)."""
    applied = [{k: c.get(k) for k in _PIXEL_FIELDS} for c in corrections if c.get("kind") in APPLIED]
    if not applied:
        return None
    text = json.dumps(sorted(applied, key=lambda c: c["id"]), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def describe(c: dict) -> str:
    first, last = c["frames"]
    span = f"frame {first}" if first == last else f"frames {first}–{last}"
    what = {"keep_source": "source kept under a painted region",
            "reject_face": f"face track {c.get('track')} rejected (left unrestored)",
            "dust": "dust removed under a painted region",
            "strength": f"stage '{c.get('stage')}' run at strength {c.get('strength')}"}[c["kind"]]
    return f"{what}, {span}"


def record_entries(corrections: list[dict]) -> list[dict]:
    """What the provenance record keeps of each correction: who, when, why, where, and the mask's hash."""
    keys = ("id", "kind", "frames", "who", "when", "why", "mask_sha256", "track", "stage", "strength", "revision")
    return [{**{k: c.get(k) for k in keys if c.get(k) is not None}, "applied": c["kind"] in APPLIED,
             "description": describe(c)} for c in corrections]


@dataclass
class _Prepared:
    kind: str
    first: int
    last: int
    mask: np.ndarray | None = None          # float32 H×W in [0, 1] at the output size
    boxes: dict | None = None


class Applier:
    """The final step of a run: source pixels back under keep-source masks and rejected faces; dust inpainted.

    ``tap`` wraps the stream of source frames going into the pipeline and keeps the pictures that a
    correction will need; ``apply`` is called on each frame leaving the last stage. Where the output has
    the source's geometry, a kept pixel equals the source's exactly (the mask is 1 there); otherwise the
    source is resized to the output's size (bicubic) and that is what is put back.
    """

    def __init__(self, corrections: list[dict], base: Path, width: int, height: int, frame_ratio: int = 1):
        self.width, self.height, self.ratio = width, height, max(1, frame_ratio)
        self.items = [self._prepare(c, Path(base)) for c in corrections if c.get("kind") in PIXEL_KINDS]
        self.strengths = [c for c in corrections if c.get("kind") == "strength"]
        self._needed: set[int] = set()
        for item in self.items:
            if item.kind in ("keep_source", "reject_face"):
                self._needed.update(range(item.first // self.ratio, item.last // self.ratio + 1))
        self._sources: dict[int, np.ndarray] = {}
        self.applied: dict[str, int] = {}

    def run(self, pipeline, frames: Iterator, build) -> Iterator:
        """The pipeline's frames (source pictures tapped on the way in), strength corrections taken into account.

        ``build(spec)`` makes a pipeline like ``pipeline`` from another spec (the caller knows the device,
        batch size, seed and options); it is called only when a strength correction is on these frames."""
        return run_with_strengths(pipeline, self.tap(frames), self.strengths, build)

    def _prepare(self, c: dict, base: Path) -> _Prepared:
        item = _Prepared(c["kind"], c["frames"][0], c["frames"][1])
        if c["kind"] in ("keep_source", "dust"):
            item.mask = load_mask(base / c["mask"], c["mask_sha256"], self.width, self.height)
        else:
            item.boxes = {int(k): v for k, v in (c.get("boxes") or {}).items()}
        return item

    def tap(self, frames: Iterator) -> Iterator:
        for frame in frames:
            if frame.image is not None and frame.index in self._needed:
                self._sources[frame.index] = frame.image.copy()
            yield frame

    def _source(self, index: int) -> np.ndarray | None:
        image = self._sources.get(index)
        if image is None:
            return None
        if image.shape[:2] != (self.height, self.width):
            import cv2

            image = np.clip(cv2.resize(image, (self.width, self.height), interpolation=cv2.INTER_CUBIC), 0, 1)
            self._sources[index] = image
        return image

    def apply(self, frame):
        if frame.image is None or not self.items:
            return frame
        out = None
        for item in self.items:
            if not item.first <= frame.index <= item.last:
                continue
            if out is None:
                out = np.array(frame.image, dtype=np.float32, copy=True)
            if item.kind == "dust":
                out = inpaint(out, item.mask)
            else:
                mask = item.mask if item.kind == "keep_source" else face_mask(item.boxes.get(frame.index),
                                                                              self.width, self.height)
                source = self._source(frame.source_index)
                if mask is None or source is None:
                    continue
                alpha = mask[..., None]
                out = np.where(alpha >= 1.0, source, out * (1.0 - alpha) + source * alpha).astype(np.float32)
            self.applied[item.kind] = self.applied.get(item.kind, 0) + 1
        for index in [i for i in self._sources if i < frame.source_index]:
            del self._sources[index]
        return frame if out is None else frame.with_image(out)


def load_mask(path: Path, sha256: str, width: int, height: int) -> np.ndarray:
    """A mask PNG as float32 in [0, 1] at width×height; its bytes must match the recorded sha256."""
    import cv2

    data = Path(path).read_bytes()
    if hashlib.sha256(data).hexdigest() != sha256:
        raise CorrectionError(f"{path}: the mask does not match its recorded sha256")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise CorrectionError(f"{path}: not an image")
    if image.ndim == 3:   # a painted RGBA layer: the paint is where alpha is
        image = image[..., 3] if image.shape[2] == 4 else image.max(axis=2)
    if image.dtype != np.uint8:
        image = (image.astype(np.float32) / np.iinfo(image.dtype).max * 255).astype(np.uint8)
    if image.shape != (height, width):
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_NEAREST)
    return image.astype(np.float32) / 255.0


def face_mask(box, width: int, height: int, grow: float = 1.25) -> np.ndarray | None:
    """A soft ellipse over a face box [x, y, w, h] (grown a little: hair and chin), 1 inside."""
    if not box:
        return None
    import cv2

    x, y, w, h = (float(v) for v in box[:4])
    mask = np.zeros((height, width), np.float32)
    centre = (int(round(x + w / 2)), int(round(y + h / 2)))
    axes = (max(1, int(round(w * grow / 2))), max(1, int(round(h * grow / 2))))
    cv2.ellipse(mask, centre, axes, 0, 0, 360, 1.0, -1)
    feather = max(1, int(round(min(w, h) * 0.08)) | 1)
    soft = cv2.GaussianBlur(mask, (2 * feather + 1, 2 * feather + 1), 0)
    return np.maximum(mask, soft)   # exactly 1 over the face, a soft edge outside it


def inpaint(image: np.ndarray, mask: np.ndarray, radius: int = 3) -> np.ndarray:
    """Fill the masked pixels from their surroundings (OpenCV Telea, on 16-bit samples)."""
    import cv2

    hole = (mask > 0.5).astype(np.uint8)
    if not hole.any():
        return image
    out = image.copy()
    samples = np.clip(image * 65535.0 + 0.5, 0, 65535).astype(np.uint16)
    for ch in range(3):   # Telea takes 16-bit images one channel at a time
        filled = cv2.inpaint(samples[..., ch], hole, radius, cv2.INPAINT_TELEA)
        out[..., ch] = np.where(hole > 0, filled.astype(np.float32) / 65535.0, image[..., ch])
    return out


def strength_bounds(spec, stage: str) -> tuple[float, float]:
    """(min, max) of ``stage``'s strength in ``spec``; CorrectionError when it has none."""
    import dataclasses

    for entry in spec.stages:
        if entry.name == stage:
            for f in dataclasses.fields(entry.params):
                if f.name == "strength":
                    return float(f.metadata.get("min", 0.0)), float(f.metadata.get("max", 1.0))
            raise CorrectionError(f"stage '{stage}' has no strength to change")
    raise CorrectionError(f"pipeline '{spec.name}' has no stage '{stage}'")


def with_strength(spec, stage: str, strength: float):
    """A copy of ``spec`` where every stage named ``stage`` runs at ``strength`` (checked against its range)."""
    import dataclasses

    lo, hi = strength_bounds(spec, stage)
    if not lo <= float(strength) <= hi:
        raise CorrectionError(f"stage '{stage}': strength {strength} is outside {lo}..{hi}")
    stages = [dataclasses.replace(s, params=dataclasses.replace(s.params, strength=float(strength)))
              if s.name == stage else s for s in spec.stages]
    return dataclasses.replace(spec, stages=stages)


def run_with_strengths(pipeline, frames: Iterator, strengths: list[dict], build) -> Iterator:
    """``pipeline.run(frames)``; where a strength correction covers a frame, that frame comes instead from a
    pipeline built with the stage's strength changed, fed the very same frames (the segment, its overlap
    and warm-up). The extra pipelines run only over segments holding such a shot, at the cost of one more
    pass each; a later correction wins where two overlap."""
    if not strengths:
        yield from pipeline.run(frames)
        return
    import itertools

    feeds = itertools.tee(frames, 1 + len(strengths))
    others = []
    try:
        for c in strengths:
            other = build(with_strength(pipeline.spec, c["stage"], c["strength"]))
            others.append(other)
            other.setup()
        streams = [pipeline.run(feeds[0])] + [o.run(feed) for o, feed in zip(others, feeds[1:])]
        for outs in zip(*streams):
            frame = outs[0]
            for c, alt in zip(strengths, outs[1:]):
                if c["frames"][0] <= alt.index <= c["frames"][1]:
                    frame = alt
            yield frame
    finally:
        for other in others:
            other.close()
