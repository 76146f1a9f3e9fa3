"""How much the reference gate's reading moves on restorations that are genuine: its margin's calibration.

Run: ``python -m benchmarks reference_gate`` (needs ../shared; ~4 min on 2 idle cores with the cascade
pairs cached by ``restore train pipelines/training/face-v3.yaml``, ~4 min more to make them).

The reference gate (``faces`` stage, ``reference: DIR``) refuses a restored face whose SFace cosine to
the reference person falls below the received face's by more than ``reference_margin``. A margin of 0
reads SFace's own noise as drift: with ``restore-face-v3`` it held back 11 of 24 bench restorations
that dlib found closer to the truth. The margin is calibrated here, on **training-split** people only
(the face bench's people are the corpus's held-out split and never enter this): every training person
with two or more portraits, each portrait's cascade pairs (the presets' SR output, aligned, as the
faces stage receives it; restore/training/face_cascade.py) restored by the face model, the person's
other portraits as the reference. Δref = cos(restored, reference) − cos(received, reference) is what
the gate reads; the restoration is *genuine* when it is closer to its own truth in PSNR-Y and in
SFace. The table gives, per margin, the share of genuine restorations the gate would hold back.
The face models trained on these people (v3 on these very pairs, seed 2026), so their restorations
here are at least as good as on a stranger's face; what is calibrated is SFace's noise on the reading,
which a face the model knows does not make smaller.
``RESTORE_BENCH_FACE`` picks the face model (default: the faces stage's default).
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import numpy as np

from benchmarks.common import REPO, SHARED

CORPUS = REPO / "corpora" / "faces"
MARGINS = (0.0, 0.005, 0.01, 0.015, 0.02, 0.03, 0.05)


def main() -> None:
    if not (SHARED / "corpora" / "faces").is_dir():
        print(f"bench_reference_gate skipped: {SHARED / 'corpora' / 'faces'} not found")
        return
    from restore.faces.align import template
    from restore.faces.identity import IdentityEmbedder
    from restore.metrics import psnr_y
    from restore.models.registry import load_model
    from restore.stages.faces import FacesParams
    from restore.training.config import load_face_config
    from restore.training.face_cascade import CascadeSpec, build_cascade_pairs
    from restore.training.face_train import _held_out_person, restore_crops

    config = load_face_config(REPO / "pipelines" / "training" / "face-v3.yaml")
    c = dict(config.cascade)
    spec = CascadeSpec(sr_weights=c["sr_weights"], sr_config=str(REPO / c["sr_config"]), crop_size=config.crop_size,
                       draws=int(c["draws"]), face_px=tuple(c["face_px"]), seed=config.seed)
    lq, hq, kept = build_cascade_pairs(CORPUS, spec, Path(config.cache_dir).expanduser(), print)

    excluded = set(config.heldout.get("exclude_people", []))
    fraction = float(config.heldout.get("people_fraction", 0.05))
    portraits = defaultdict(set)
    for im in kept:
        if im.person not in excluded and not _held_out_person(im.person, fraction):
            portraits[im.person].add(im.rel)
    people = {p for p, rels in portraits.items() if len(rels) >= 2}
    idx = [i for i, im in enumerate(kept) if im.person in people]
    if not idx:
        print("bench_reference_gate skipped: no training person has two portraits")
        return

    weights = os.environ.get("RESTORE_BENCH_FACE", FacesParams.weights)
    model = load_model(weights, "cpu").module.eval()
    received = lq[idx].astype(np.float32) / 255
    truth = hq[idx].astype(np.float32) / 255
    restored = restore_crops(model, received, "cpu")

    embedder = IdentityEmbedder()
    points, box = template(config.crop_size), (0, 0, config.crop_size, config.crop_size)

    def embed(images: np.ndarray) -> np.ndarray:
        return embedder.embed_crops([embedder.crop(im, box, points) for im in images])

    e_received, e_restored, e_truth = embed(received), embed(restored), embed(truth)
    per_portrait = defaultdict(list)            # one clean identity per portrait (its draws' truths agree)
    for k, i in enumerate(idx):
        per_portrait[kept[i].rel].append(e_truth[k])
    portrait_id = {rel: np.mean(v, 0) / np.linalg.norm(np.mean(v, 0)) for rel, v in per_portrait.items()}

    d_ref, genuine = [], []
    for k, i in enumerate(idx):
        im = kept[i]
        reference = np.mean([portrait_id[r] for r in portraits[im.person] if r != im.rel], 0)
        reference /= np.linalg.norm(reference)
        d_ref.append(float(e_restored[k] @ reference - e_received[k] @ reference))
        closer_psnr = psnr_y(restored[k], truth[k]) > psnr_y(received[k], truth[k])
        closer_sface = float(e_restored[k] @ e_truth[k]) > float(e_received[k] @ e_truth[k])
        genuine.append(closer_psnr and closer_sface)
    d = np.array(d_ref)
    good = np.array(genuine)
    print(f"{weights} after {spec.sr_weights}: {len(people)} training-split people with ≥ 2 portraits, "
          f"{len(idx)} restorations, {good.mean() * 100:.0f} % genuine (closer to their truth in PSNR-Y and SFace)")
    print(f"Δref on genuine restorations: median {np.median(d[good]):+.4f}, p5 {np.percentile(d[good], 5):+.4f}, "
          f"p1 {np.percentile(d[good], 1):+.4f}; on the others: median {np.median(d[~good]):+.4f}")
    print("| reference_margin | held back, all | held back, genuine | held back, the others |")
    print("|---|---|---|---|")
    for margin in MARGINS:
        held = d < -margin
        others = f"{np.mean(held[~good]) * 100:.1f} %" if (~good).any() else "—"
        print(f"| {margin:g} | {held.mean() * 100:.1f} % | {np.mean(held[good]) * 100:.1f} % | {others} |")
