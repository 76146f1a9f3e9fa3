"""Multi-frame super-resolution on held-out video: the new model against every baseline, one run.

Ground truth: camera moves over **held-out** photographs of the committed corpora (split
``heldout``: never trained on, never tuned on), rendered here with OpenCV — not with the torch
renderer the model was trained with — in five kinds of motion a speech recording meets:
a static shot with sub-pixel tremor, a slow pan, a fast pan, a slow zoom, and hand-held shake.
Each clip is degraded by the numpy reference model ``pal-broadcast`` (restore.training.degrade,
``degrade_clip``: one camera and tape per clip, fresh noise per frame, and for some clips a real
ffmpeg MPEG-2/H.264 round trip), then brought back ×2 by:

* bicubic and Lanczos;
* ``restore-sr-x2`` (our single-frame model) and Real-ESRGAN general v3 (×4, area-resized to ×2)
  when ../shared holds it;
* the multi-frame models (``restore-vsr-x2-v5``, the presets' model; ``restore-vsr-x2-v4``, ``-v3`` and
  ``-v2``, the fine-tunes it grew from; ``restore-vsr-x2``, the GPU-trained model at the root of all;
  ``RESTORE_BENCH_VSR=a,b`` adds candidates by name or path), through the real ``superres`` stage, windows and registration included.

Per clip, against the clean frames: PSNR-Y and SSIM-Y (restore.metrics), and the **temporal
error** — the mean absolute difference between the output's and the truth's frame-to-frame
changes (8-bit units): flicker or boiling the truth does not have. Paired Δ against bicubic and
against each other method, with a bootstrap interval over clips.

Then the same truths recorded cleanly (area downscale only) through bicubic, the presets' model, and
the model with the stage's ``consistency: 1`` (RESTORE_BENCH_SR picks the model).

    python -m benchmarks vsr          # ~12 min on 2 cores with Real-ESRGAN; RESTORE_BENCH_QUICK=1: fewer clips
"""

from __future__ import annotations

import os
import time
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from benchmarks._archival import SHARED, paired, print_table, run_stage
from restore import metrics

REPO = Path(__file__).resolve().parents[1]
SCALE = 2
HR_W, HR_H = 384, 288           # LR 192×144: small enough for Real-ESRGAN on two cores
FRAMES = 10
SEED = 7070
MOTIONS = ("static", "slow-pan", "fast-pan", "zoom", "shake")
REALESRGAN = SHARED / "weights" / "realesr-general-x4v3.fp16-ncnn-conversion.pth"
CORPORA = ("general", "venue", "debian")


def heldout_images(limit: int) -> list[tuple[str, np.ndarray]]:
    """Held-out images (or regions) of the committed corpora whose files are present."""
    from restore.training.corpus import Corpus

    found = []
    for name in CORPORA:
        folder = REPO / "corpora" / name
        if not (folder / "MANIFEST.tsv").is_file():
            continue
        corpus = Corpus.load(folder)
        for entry in corpus.select(split="heldout"):
            if entry.path.is_file():
                found.append((f"{name}/{entry.label()}", entry))
    found.sort(key=lambda item: item[0])
    step = max(1, len(found) // limit) if limit else 1
    return [(label, entry.load_rgb()) for label, entry in found[::step][:limit]]


def camera(image: np.ndarray, motion: str, rng: np.random.Generator) -> list[np.ndarray]:
    """``FRAMES`` HR frames of one kind of motion over ``image`` (bicubic sub-pixel warps of a
    version of the image area-scaled so the frame and its travel fit)."""
    h, w = image.shape[:2]
    fit = min(1.0, min(w / (HR_W * 1.3), h / (HR_H * 1.3)))
    base = cv2.resize(image, (round(w * fit), round(h * fit)), interpolation=cv2.INTER_AREA) if fit < 1 else image
    bh, bw = base.shape[:2]
    cx, cy = bw / 2, bh / 2
    angle = rng.uniform(0, 2 * np.pi)
    speed = {"static": 0.0, "slow-pan": 0.6, "fast-pan": 3.0, "zoom": 0.0, "shake": 0.0}[motion]
    walk = np.zeros(2)
    frames = []
    for k in range(FRAMES):
        t = k - FRAMES / 2
        dx, dy = speed * t * np.cos(angle), speed * t * np.sin(angle)
        zoom = 1.0 + (0.006 * t if motion == "zoom" else 0.0)
        if motion == "static":
            dx, dy = rng.normal(0, 0.15, 2)
        if motion == "shake":
            walk += rng.normal(0, 0.8, 2)
            dx, dy = walk
        # output pixel (u, v) reads base at centre + (u - W/2, v - H/2) / zoom + (dx, dy)
        m = np.float32([[1 / zoom, 0, cx + dx - HR_W / 2 / zoom], [0, 1 / zoom, cy + dy - HR_H / 2 / zoom]])
        frames.append(cv2.warpAffine(base, m, (HR_W, HR_H), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                                     borderMode=cv2.BORDER_REFLECT).clip(0, 1).astype(np.float32))
    return frames


def make_clips(limit: int) -> list[dict]:
    from restore.training.degrade import DegradationModel

    model = DegradationModel(preset="pal-broadcast")
    clips = []
    for i, (label, image) in enumerate(heldout_images(limit)):
        rng = np.random.default_rng([SEED, i])
        motion = MOTIONS[i % len(MOTIONS)]
        truth = camera(image, motion, rng)
        lr = list(model.degrade_clip(truth, np.random.default_rng([SEED, i, 1]), SCALE))
        clean = [cv2.resize(f, (HR_W // SCALE, HR_H // SCALE), interpolation=cv2.INTER_AREA) for f in truth]
        clips.append({"label": label, "motion": motion, "truth": truth, "lr": lr, "clean": clean})
    return clips


# --- methods ------------------------------------------------------------------------------

def candidates() -> list[str]:
    """SR models under test beside the shipped ones: ``RESTORE_BENCH_VSR=a,b`` (registry names or paths)."""
    return [n for n in os.environ.get("RESTORE_BENCH_VSR", "").split(",") if n]


def _resize(interpolation):
    def run(lr_frames):
        return [cv2.resize(f, (f.shape[1] * SCALE, f.shape[0] * SCALE), interpolation=interpolation).clip(0, 1)
                for f in lr_frames]
    return run


def _stage(weights: str, consistency: float = 0.0, noise_aware: bool = False):
    from restore.stages.superres import SuperResolution, SuperResParams

    params = SuperResParams(weights=weights, scale=SCALE, square_pixels=False, consistency=consistency,
                            consistency_noise=noise_aware)

    def run(lr_frames):
        out, _ = run_stage(SuperResolution, params, lr_frames, fps=Fraction(25))
        return out
    return run


def methods() -> dict:
    from restore.models.registry import resolve_weights
    from restore.errors import PipelineError

    found = {"bicubic": _resize(cv2.INTER_CUBIC), "lanczos": _resize(cv2.INTER_LANCZOS4),
             "restore-sr-x2": _stage("restore-sr-x2")}
    if REALESRGAN.is_file():
        found["realesr-general-x4v3"] = _stage(str(REALESRGAN))
    names = ["restore-vsr-x2", "restore-vsr-x2-v2", "restore-vsr-x2-v3", "restore-vsr-x2-v4", "restore-vsr-x2-v5"] + candidates()
    for name in names:
        try:
            resolve_weights(name)
        except PipelineError as exc:
            print(f"  ({name}: {exc}; left out)")
            continue
        found[Path(name).stem if os.sep in name else name] = _stage(name)
    return found


def temporal_error(out: list[np.ndarray], truth: list[np.ndarray]) -> float:
    yo = [metrics.luma(f) for f in out]
    yt = [metrics.luma(f) for f in truth]
    diffs = [np.abs((yo[k] - yo[k - 1]) - (yt[k] - yt[k - 1]))[8:-8, 8:-8].mean() for k in range(1, len(out))]
    return float(np.mean(diffs) * 255.0)


def score(out: list[np.ndarray], truth: list[np.ndarray]) -> tuple[float, float, float]:
    psnr = float(np.mean([metrics.psnr_y(o, t, border=8) for o, t in zip(out, truth)]))
    ssim = float(np.mean([metrics.ssim_y(o, t, border=8) for o, t in zip(out, truth)]))
    return psnr, ssim, temporal_error(out, truth)


def main() -> None:
    quick = os.environ.get("RESTORE_BENCH_QUICK") == "1"
    clips = make_clips(10 if quick else 30)
    if not clips:
        print("no held-out corpus images are present (../shared/corpora, `make corpus`): skipped")
        return
    print(f"{len(clips)} held-out clips, {FRAMES} frames of {HR_W}×{HR_H} (LR {HR_W // SCALE}×{HR_H // SCALE}), "
          f"pal-broadcast; motions: {', '.join(MOTIONS)}")
    results: dict[str, np.ndarray] = {}
    seconds: dict[str, float] = {}
    for name, run in methods().items():
        t0 = time.perf_counter()
        rows = []
        for clip in clips:
            out = run(clip["lr"])
            if len(out) != len(clip["truth"]):
                raise RuntimeError(f"{name} returned {len(out)} frames for {len(clip['truth'])}")
            rows.append(score(out, clip["truth"]))
        seconds[name] = (time.perf_counter() - t0) / (len(clips) * FRAMES)
        results[name] = np.array(rows)
    base = results["bicubic"]
    table = []
    for name, r in results.items():
        dpsnr = paired(r[:, 0], base[:, 0]) if name != "bicubic" else None
        table.append([name, f"{r[:, 0].mean():.3f}", f"{r[:, 1].mean():.4f}", f"{r[:, 2].mean():.3f}",
                      "" if dpsnr is None else f"{dpsnr[0]:+.3f} [{dpsnr[1]:+.3f}, {dpsnr[2]:+.3f}], {dpsnr[3]:.0%}",
                      f"{seconds[name]:.3f}"])
    print_table("held-out video, ×2", ["method", "PSNR-Y", "SSIM-Y", "temporal err", "ΔPSNR vs bicubic (95% CI, clips won)",
                                       "s/frame"], table)
    for name in [n for n in results if n.startswith("restore-vsr")]:
        rows = []
        for other in results:
            if other == name:
                continue
            d = paired(results[name][:, 0], results[other][:, 0])
            s = paired(results[name][:, 1], results[other][:, 1])
            t = paired(results[name][:, 2], results[other][:, 2])
            rows.append([other, f"{d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}]", f"{d[3]:.0%}", f"{s[0]:+.4f}",
                         f"{t[0]:+.3f}"])
        print_table(f"{name} against each method (paired over clips)",
                    ["method", "ΔPSNR-Y (95% CI)", "clips won", "ΔSSIM-Y", "Δtemporal err (lower better)"], rows)
    by_motion = []
    for motion in MOTIONS:
        idx = [i for i, c in enumerate(clips) if c["motion"] == motion]
        if idx:
            by_motion.append([motion, len(idx)] + [f"{results[n][idx, 0].mean() - base[idx, 0].mean():+.2f}"
                                                   for n in results if n != "bicubic"])
    print_table("ΔPSNR-Y vs bicubic by kind of motion", ["motion", "clips"] + [n for n in results if n != "bicubic"],
                by_motion)
    clean_sources(clips)


def clean_sources(clips: list[dict]) -> None:
    """The same truths recorded cleanly (area downscale only: a good scan, a digital master), where a model
    trained on soft, noisy footage over-sharpens, and the superres stage's ``consistency`` (back-projection
    onto the input) is meant for."""
    weights = os.environ.get("RESTORE_BENCH_SR", "restore-vsr-x2-v5")
    runs = {"bicubic": _resize(cv2.INTER_CUBIC), weights: _stage(weights),
            f"{weights} consistency 1": _stage(weights, consistency=1.0)}
    results = {name: np.array([score(run(clip["clean"]), clip["truth"]) for clip in clips]) for name, run in runs.items()}
    base = results["bicubic"]
    table = []
    for name, r in results.items():
        d = paired(r[:, 0], base[:, 0]) if name != "bicubic" else None
        table.append([name, f"{r[:, 0].mean():.3f}", f"{r[:, 1].mean():.4f}", f"{r[:, 2].mean():.3f}",
                      "" if d is None else f"{d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}], {d[3]:.0%}"])
    print_table("held-out video, ×2, clean sources (area downscale only)",
                ["method", "PSNR-Y", "SSIM-Y", "temporal err", "ΔPSNR vs bicubic (95% CI, clips won)"], table)
