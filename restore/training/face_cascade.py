"""Training pairs for a face stage that runs *after* super-resolution.

The ``faces`` stage receives the super-resolved frame, aligns each face to the FFHQ
template and adds a correction. ``restore-face-v1`` was trained on something else:
clean 128-px template crops degraded directly (blur, noise, JPEG), which is neither what
reaches the stage (the SR model has already removed most noise and blocking and left its
own, smoother kind of error) nor at the right scale (a 128-px template holds a face about
63 px wide, half the width of a face in an SD frame brought up ×2, so its correction could
only ever be as detailed as the SD source). It moved faces away from their truth.

The pairs made here are the stage's real task: each training portrait is filmed as a short
static shot (a speaker, sub-pixel shake and drift, fresh noise every frame), degraded with
the SR model's own training degradation (the ``degradation`` ranges of its training config:
nothing is taken from a bench), super-resolved by that SR model exactly as the ``superres``
stage does it (the window registered by ``align_window``, then the network), and the centre
frame's face is aligned to a ``crop_size`` template — with landmarks found by YuNet on the
*super-resolved* frame, as the stage finds them — together with the truth under the same
transform. A network trained on (aligned SR output → aligned truth) learns to correct what
the SR model gets wrong on faces, at the resolution the face has in the output.

Only the corpus's training split is used (the face bench's people are its held-out split),
and each pair records the portrait's person, source and licence.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from restore.errors import UserError
from restore.faces.align import estimate_affine
from restore.faces.detect import FaceDetector
from restore.training.face_data import FaceImage, read_face_manifest

PACK_VERSION = "face-cascade v1"


@dataclass(frozen=True)
class CascadeSpec:
    """How the pairs are made (every field enters the cache key)."""

    sr_weights: str                        # registry name or path of the SR model the stage will follow
    sr_config: str                         # its training config: the degradation ranges come from there
    crop_size: int = 256                   # template crop: a ~126-px face, the size it has after SD ×2
    draws: int = 3                         # shots per portrait (fresh degradation, framing and face size)
    frames: int = 5
    window: int = 224                      # HR frame around the face (the SR input is half of it)
    face_px: tuple[float, float] = (92.0, 150.0)   # face width in the HR frame (never enlarged)
    shake_px: float = 0.6                  # HR px, per-frame random walk of a hand-held camera
    drift_px: float = 1.5                  # HR px per frame, the most a slow pan or a leaning speaker moves
    seed: int = 0

    def key(self, images: list[FaceImage], sr_sha256: str) -> str:
        # the config's path resolved: "pipelines/…" from the checkout and "/…/pipelines/…" are one pack
        fields = {**vars(self), "sr_config": str(Path(self.sr_config).resolve())}
        h = hashlib.sha256(f"{PACK_VERSION} {sr_sha256} {sorted(fields.items())}".encode())
        for im in images:
            h.update(f"{im.rel}\t{im.sha256}\n".encode())
        return h.hexdigest()[:16]


def _shot(image: np.ndarray, centre: tuple[float, float], spec: CascadeSpec,
          rng: np.random.Generator) -> np.ndarray:
    """(T, window, window, 3) float32: a static shot of ``image`` around ``centre``; the centre
    frame is the image itself (whole-pixel cut), the others moved by sub-pixel drift and shake."""
    w = spec.window
    t = spec.frames
    mid = t // 2
    cx, cy = centre
    x0 = int(round(cx - w / 2 + rng.uniform(-0.08, 0.08) * w))
    y0 = int(round(cy - w / 2 + rng.uniform(-0.12, 0.04) * w))   # a little more room above the head
    pad = w
    padded = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REFLECT101)
    x0, y0 = x0 + pad, y0 + pad
    angle = rng.uniform(-math.pi, math.pi)
    speed = rng.uniform(0, 1) ** 2 * spec.drift_px
    walk = np.cumsum(rng.normal(0, spec.shake_px * rng.uniform(0, 1), (t, 2)), axis=0)
    walk -= walk[mid]
    frames = []
    for k in range(t):
        if k == mid:
            frames.append(padded[y0:y0 + w, x0:x0 + w].copy())
            continue
        dx = speed * math.cos(angle) * (k - mid) + walk[k, 0]
        dy = speed * math.sin(angle) * (k - mid) + walk[k, 1]
        m = np.array([[1, 0, -(x0 + dx)], [0, 1, -(y0 + dy)]], np.float64)
        frames.append(cv2.warpAffine(padded, m, (w, w), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT101))
    return np.clip(np.stack(frames), 0, 1).astype(np.float32)


def super_resolve_windows(model, lr: torch.Tensor) -> torch.Tensor:
    """The centre frames of LR windows (N, T, 3, h, w) super-resolved as the ``superres`` stage
    does it (restore.stages.superres: ``align_window``, then the network), clamped to [0, 1]."""
    from restore.models.motion import align_window

    with torch.inference_mode():
        return model.module(align_window(lr.float())).float().clamp(0, 1)


def build_cascade_pairs(corpus_dir: Path, spec: CascadeSpec, cache_dir: Path | None = None,
                        log=print, include_heldout: bool = False) -> tuple[np.ndarray, np.ndarray, list[FaceImage]]:
    """uint8 (N, S, S, 3) aligned SR outputs, the aligned truths, and each pair's portrait.

    Portraits the manifest marks ``heldout`` are left out unless ``include_heldout`` (a subject
    fine-tune measures itself on them)."""
    from restore.models.registry import load_model
    from restore.training.video_synth import degrade_clips
    from restore.training.vsr_train import load_vsr_config

    images, manifest = read_face_manifest(Path(corpus_dir))
    if not include_heldout:
        held = sum(im.split == "heldout" for im in images)
        images = [im for im in images if im.split != "heldout"]
        log(f"cascade pairs: {len(images)} training-split portraits of {manifest} ({held} held out by the manifest)")
    if not images:
        raise UserError(f"{manifest}: no training-split portraits")
    model = load_model(spec.sr_weights, "cpu")
    if model.scale != 2 or not model.arch.get("type") == "WindowFusionSR":
        raise UserError(f"{spec.sr_weights}: the cascade pairs follow a ×2 multi-frame SR model")
    cache = None
    if cache_dir is not None:
        cache = Path(cache_dir) / f"face-cascade-{spec.key(images, model.sha256)}.npz"
        if cache.is_file():
            data = np.load(cache, allow_pickle=False)
            rels = json.loads(str(data["rels"]))
            by_rel = {im.rel: im for im in images}
            return data["lq"], data["hq"], [by_rel[r] for r in rels]
    broadcast = load_vsr_config(Path(spec.sr_config)).broadcast_ranges()
    detector = FaceDetector(score_threshold=0.5)
    rng = np.random.default_rng(spec.seed)
    gen = torch.Generator().manual_seed(spec.seed)
    s = spec.crop_size
    lqs, hqs, owners = [], [], []
    shots, shot_owner = [], []

    def flush() -> None:
        if not shots:
            return
        hr = torch.from_numpy(np.stack(shots)).permute(0, 1, 4, 2, 3).contiguous()   # N, T, 3, H, W
        lr = degrade_clips(hr, 2, gen, broadcast)
        sr = super_resolve_windows(model, lr).permute(0, 2, 3, 1).numpy()
        truth = hr[:, spec.frames // 2].permute(0, 2, 3, 1).numpy()
        for out, clean, owner in zip(sr, truth, shot_owner):
            found = detector.detect(out) or detector.detect(clean)   # the stage sees only the SR frame
            if not found:
                continue
            affine = estimate_affine(found[0].landmarks, s)
            warp = [cv2.warpAffine(im, affine, (s, s), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
                    for im in (out, clean)]
            lqs.append((np.clip(warp[0], 0, 1) * 255 + 0.5).astype(np.uint8))
            hqs.append((np.clip(warp[1], 0, 1) * 255 + 0.5).astype(np.uint8))
            owners.append(owner)
        shots.clear()
        shot_owner.clear()

    for n, im in enumerate(images):
        bgr = cv2.imread(str(im.path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise UserError(f"cannot read training image {im.path}")
        rgb = bgr[:, :, ::-1].astype(np.float32) / 255.0
        faces = detector.detect(rgb)
        if not faces:
            continue
        face = faces[0]
        for _ in range(spec.draws):
            scale = min(1.0, rng.uniform(*spec.face_px) / face.box[2])
            scaled = rgb if scale > 0.97 else cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            f = 1.0 if scale > 0.97 else scale
            centre = ((face.box[0] + face.box[2] / 2) * f, (face.box[1] + face.box[3] / 2) * f)
            shots.append(_shot(scaled, centre, spec, rng))
            shot_owner.append(im)
        if len(shots) >= 24:
            flush()
        if (n + 1) % 100 == 0:
            log(f"cascade pairs: {n + 1}/{len(images)} portraits, {len(lqs)} pairs")
    flush()
    if not lqs:
        raise UserError(f"{manifest}: no face found in the training portraits")
    lq, hq = np.stack(lqs), np.stack(hqs)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(cache.stem + ".partial.npz")
        np.savez(tmp, lq=lq, hq=hq, rels=json.dumps([o.rel for o in owners]))
        tmp.replace(cache)
    log(f"cascade pairs: {len(lq)} from {len({o.rel for o in owners})} portraits of "
        f"{len({o.person for o in owners})} people, {s}-px template crops after {spec.sr_weights}")
    return lq, hq, owners


def pair_batch(lq: np.ndarray, hq: np.ndarray, rng: np.random.Generator, count: int,
               patch: int | None) -> tuple[np.ndarray, np.ndarray]:
    """A training batch (float32 N×3×P×P input, target) of random pairs: the same random window
    of both, mirrored half of the time (a face's mirror image is a face; the template is symmetric)."""
    picks = rng.integers(0, len(lq), count)
    size = lq.shape[1]
    p = patch if patch and patch < size else size
    xs, ys = [], []
    for i in picks:
        y, x = rng.integers(0, size - p + 1), rng.integers(0, size - p + 1)
        a, b = lq[i, y:y + p, x:x + p], hq[i, y:y + p, x:x + p]
        if rng.random() < 0.5:
            a, b = a[:, ::-1], b[:, ::-1]
        xs.append(a)
        ys.append(b)
    to = lambda arr: np.ascontiguousarray(np.stack(arr).transpose(0, 3, 1, 2), dtype=np.float32) / 255.0  # noqa: E731
    return to(xs), to(ys)
