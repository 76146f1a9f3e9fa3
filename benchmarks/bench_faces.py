"""Face restoration: quality and identity on held-out faces, speed per face, temporal stability.

1. Held-out people of the face corpus (never trained on, listed in the model card),
   aligned to the template and degraded with fixed archival degradations. Compared:
   the degraded input itself, a classical restoration (non-local means + unsharp
   mask), and our model. Identity = SFace cosine to the clean face.
2. The real old-film close-up (oldfilm-001, 24 frames, no ground truth) through the
   ``faces`` stage, with landmark smoothing off (per-frame alignment, what GFPGAN /
   CodeFormer video scripts do), on, and with the correction carried over between
   frames (``temporal``). "Correction flicker" is the mean frame-to-frame change,
   inside the face box, of what the stage added to the frame (output − input, 8-bit
   units): the film's own motion and grain cancel out, the restoration's shake stays.
"""

from __future__ import annotations

import time
from fractions import Fraction

import cv2
import numpy as np
import torch

from benchmarks._archival import OLD_FILM, SHARED, mean, print_table, read_old_film
from restore.faces.align import template
from restore.faces.identity import IdentityEmbedder
from restore.frame import Frame, VideoFormat
from restore.stages.base import StageContext

FACES = SHARED / "corpora" / "faces"


def classical(lq: np.ndarray) -> np.ndarray:
    """Non-local means then a mild unsharp mask: the no-learning baseline."""
    u8 = (np.clip(lq, 0, 1) * 255 + 0.5).astype(np.uint8)
    den = cv2.fastNlMeansDenoisingColored(u8, None, 7, 7, 5, 15).astype(np.float32) / 255.0
    blur = cv2.GaussianBlur(den, (0, 0), 1.5)
    return np.clip(den + 0.6 * (den - blur), 0, 1)


def heldout_faces(model):
    from restore.training import face_data

    people = set(model.card.get("corpus", {}).get("heldout_people", []))
    images, _ = face_data.read_face_manifest(FACES)
    chosen = [im for im in images if im.person in people]
    crops, _ = face_data.aligned_crops(chosen, int(model.card.get("crop_size", 128)), None)
    return crops


def bench_heldout(model, embedder) -> None:
    from restore.training.face_train import restore_crops, validation_pairs
    from skimage.metrics import structural_similarity

    crops = heldout_faces(model)
    lq, hq = validation_pairs(crops, 2, 2024, model.card.get("training", {}).get("config", {}).get("degradation"))
    size = hq.shape[1]

    def identity(images):
        feats = embedder.embed_crops([embedder.crop(im, (0, 0, size, size), template(size)) for im in images])
        return feats

    clean = identity(hq)
    rows = []
    for name, fn in [("degraded input", lambda x: x.copy()),
                     ("NL-means + unsharp", lambda x: np.stack([classical(i) for i in x])),
                     (f"{model.name} (ours)", lambda x: restore_crops(model.module, x, "cpu"))]:
        start = time.perf_counter()
        out = fn(lq)
        ms = (time.perf_counter() - start) / len(lq) * 1000
        psnr = mean(10 * np.log10(1 / max(np.mean((a - b) ** 2), 1e-10)) for a, b in zip(out, hq))
        ssim = mean(structural_similarity(a, b, channel_axis=2, data_range=1.0) for a, b in zip(out, hq))
        ident = np.sum(identity(out) * clean, axis=1)
        rows.append([name, psnr, ssim, float(ident.mean()), float((ident >= 0.363).mean()), ms])
    print_table(f"Held-out faces ({len(lq)} degraded crops of {len(crops)} faces, {size}×{size})",
                ["method", "PSNR dB", "SSIM", "identity", "same-person share", "ms/face"], rows,
                "identity: SFace cosine to the clean face; same person ≥ 0.363")


def run_faces_stage(images, fps, **params):
    from restore.pipeline.params import parse_params
    from restore.stages.faces import Faces

    h, w = images[0].shape[:2]
    fmt = VideoFormat(width=w, height=h, fps=fps)
    events = []
    stage = Faces(parse_params(Faces.Params, params), StageContext(source_format=fmt, input_format=fmt,
                                                                   report=events.append))
    stage.setup()
    frames = [Frame(index=i, pts=Fraction(i) / fps, image=img) for i, img in enumerate(images)]
    start = time.perf_counter()
    out = list(stage.run(iter(frames)))
    elapsed = time.perf_counter() - start
    stage.close()
    return out, elapsed, events[-1]


def correction_flicker(frames_in, frames_out) -> float:
    """Mean frame-to-frame change of what the stage added (output − input) inside the
    face box, 8-bit units: the film's own motion and grain cancel out, what is left is
    the restoration shaking or flickering."""
    diffs = []
    for t in range(1, len(frames_out)):
        for face in frames_out[t].notes.get("faces") or []:
            x, y, w, h = (int(round(v)) for v in face["box"])
            x, y = max(0, x), max(0, y)
            now = frames_out[t].image[y:y + h, x:x + w] - frames_in[t][y:y + h, x:x + w]
            before = frames_out[t - 1].image[y:y + h, x:x + w] - frames_in[t - 1][y:y + h, x:x + w]
            diffs.append(float(np.abs(now - before).mean()) * 255)
    return mean(diffs) if diffs else float("nan")


def bench_old_film() -> None:
    clip = OLD_FILM / "oldfilm-001.mkv"
    if not clip.is_file():
        print("skipped old-film face run: oldfilm-001.mkv not found")
        return
    images, fps = read_old_film("oldfilm-001.mkv", 24)
    rows = []
    for label, params in [("per-frame alignment (baseline)", {"smoothing": 0.0, "max_missed": 0, "temporal": 0.0}),
                          ("tracked + One-Euro landmarks", {"smoothing": 1.0, "temporal": 0.0}),
                          ("+ temporal correction 0.3 (default)", {"smoothing": 1.0, "temporal": 0.3})]:
        out, elapsed, summary = run_faces_stage(images, fps, fidelity=0.3, **params)
        faces = max(1, summary["faces"])
        rows.append([label, summary["faces"], summary["restored"], summary["identity_mean"],
                     summary["identity_min"], correction_flicker(images, out), elapsed / faces * 1000])
    print_table(f"oldfilm-001 ({len(images)} frames, {images[0].shape[1]}×{images[0].shape[0]}) through the faces stage",
                ["landmarks", "faces", "restored", "identity mean", "identity min", "correction flicker (8-bit)",
                 "ms/face (all)"], rows,
                "identity: SFace cosine between the stage's input face and its output face")


def main(old_film_only: bool = False) -> None:
    if not FACES.is_dir():
        print(f"bench_faces skipped: {FACES} not found")
        return
    from restore.errors import PipelineError
    from restore.models.registry import load_model

    try:
        model = load_model("restore-face-v1", "cpu")
    except PipelineError as exc:
        print(f"bench_faces skipped: {exc}")
        return
    torch.set_num_threads(max(1, torch.get_num_threads()))
    if not old_film_only:
        bench_heldout(model, IdentityEmbedder())
    bench_old_film()


if __name__ == "__main__":
    main()
