"""The superres stage's back-projection options on sources of three kinds, against the truth.

Short clips (the video bench's cameras: static, pans, zoom, shake) over studio portraits of
``corpora/faces`` (frl_london, frl_canada: no SR model trained on them, and not the video bench's
held-out pictures), ×2, each recorded three ways: ``pal-broadcast`` (blur, noise, MPEG-2), clean
(area downscale only: a good scan, a digital master) and clean with white noise σ 3/255 (a good
transfer with light tape noise). For each: bicubic, the presets' model alone, with ``consistency: 1``
(exact back-projection onto the input) and with ``consistency_noise`` as well (the back-projection
shrunk to what stands out of the frame's estimated noise).

    python -m benchmarks consistency      # ~1.5 min on 2 cores (9 clips); RESTORE_BENCH_SR picks the model
"""

from __future__ import annotations

import os

import cv2
import numpy as np

from benchmarks import bench_vsr as video
from benchmarks._archival import SHARED, paired, print_table

FACES = SHARED / "corpora" / "faces"
SETS = ("frl_london", "frl_canada")
SEED = 99
NOISE = 3 / 255


def portraits(per_set: int = 5) -> list[np.ndarray]:
    images = []
    for name in SETS:
        files = sorted((FACES / name).glob("*.jpg"))[::10][:per_set]
        images += [cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB).astype(np.float32) / 255 for f in files]
    return images


def clips(images: list[np.ndarray]) -> list[dict]:
    from restore.training.degrade import DegradationModel

    broadcast = DegradationModel(preset="pal-broadcast")
    size = (video.HR_W // video.SCALE, video.HR_H // video.SCALE)
    out = []
    for i, image in enumerate(images):
        truth = video.camera(image, video.MOTIONS[i % len(video.MOTIONS)], np.random.default_rng([SEED, i]))
        clean = [cv2.resize(t, size, interpolation=cv2.INTER_AREA) for t in truth]
        noisy = [np.clip(c + np.random.default_rng([SEED, i, 2, k]).normal(0, NOISE, c.shape), 0, 1)
                 .astype(np.float32) for k, c in enumerate(clean)]
        out.append({"truth": truth, "clean": clean, "noisy": noisy,
                    "pal-broadcast": list(broadcast.degrade_clip(truth, np.random.default_rng([SEED, i, 1]),
                                                                 video.SCALE))})
    return out


def main() -> None:
    images = portraits()
    if not images:
        print(f"bench_consistency skipped: no portraits in {FACES}")
        return
    weights = os.environ.get("RESTORE_BENCH_SR", "restore-vsr-x2-v5")
    methods = {"bicubic": video._resize(cv2.INTER_CUBIC), f"{weights} alone": video._stage(weights),
               "consistency 1 (exact)": video._stage(weights, consistency=1.0),
               "consistency 1 + consistency_noise": video._stage(weights, consistency=1.0, noise_aware=True)}
    data = clips(images)
    for kind in ("pal-broadcast", "clean", "noisy"):
        psnr = {name: np.array([video.score(run(c[kind]), c["truth"])[0] for c in data])
                for name, run in methods.items()}
        rows = []
        for name, values in psnr.items():
            d = paired(values, psnr["bicubic"]) if name != "bicubic" else None
            rows.append([name, f"{values.mean():.3f}",
                         "" if d is None else f"{d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}], {d[3]:.0%}"])
        what = {"noisy": f"clean + white noise σ {NOISE * 255:.0f}/255", "clean": "clean (area downscale only)",
                "pal-broadcast": "pal-broadcast"}[kind]
        print_table(f"{len(data)} portrait clips, ×2, {what}", ["method", "PSNR-Y", "Δ vs bicubic (95% CI, clips won)"],
                    rows)
