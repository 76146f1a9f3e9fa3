"""Does restoration lose to bicubic anywhere? A sweep over degradations our models never trained on.

Every other quality bench degrades its truth with our own degradation model (``pal-broadcast``,
restore.training.degrade) — the family the SR models were trained on, so a model that fits it and
fails elsewhere would pass them all. Here nothing of ours makes the damage: plain ffmpeg filters and
encoders, over a grid a conservator meets (soft lens or not × tape/sensor noise or not × five ways of
storing the picture, from lossless to a starved MPEG-2), on progressive pans over **held-out**
pictures of the committed corpora (never trained on), 480×360 truths recorded at 240×180 and brought
back ×2. This is how the held-out bench of the issue was built (blur + noise + MPEG-2 at 1.2 Mb/s,
240×180 → 480×360), which our first presets lost to bicubic.

Per cell and method: PSNR-Y and SSIM-Y against the truth (decoded the same way, 8-px border), the
mean over the pictures, and the paired difference to bicubic. Methods: bicubic, Lanczos, the single-
frame ``restore-sr-x2``, Real-ESRGAN general v3 (×4 → area ×2, when ../shared holds it), the presets'
``restore-vsr-x2-v5`` through the ``superres`` stage, and the ``default`` and ``sharp-source`` presets
as a whole (every stage, through ``restore run``'s job with its own decoding and encoding).

    python -m benchmarks robustness     # ~30 min on 2 cores; RESTORE_BENCH_QUICK=1: two pictures, fewer cells

``RESTORE_BENCH_VSR=a,b`` adds SR models (registry names or paths) alone, through the ``superres`` stage.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import cv2
import numpy as np

from benchmarks import ground_truth as gt
from benchmarks import bench_vsr as vsr
from benchmarks._archival import print_table
from benchmarks.bench_vsr import heldout_images
from benchmarks.common import workdir

HR_W, HR_H = 480, 360
LR_W, LR_H = HR_W // 2, HR_H // 2
FRAMES = 12

# the grid: (label, ffmpeg filter after the area downscale or None)
BLURS = [("sharp", None), ("soft (gblur σ 0.8)", "gblur=sigma=0.8")]
NOISES = [("clean", None), ("noise 8", "noise=alls=8:allf=t")]
# (label, encoder arguments); the lossless one keeps 4:4:4, the others are 4:2:0 as delivered. At 240x180
# MPEG-2 reaches its finest quantiser near 1.2 Mb/s (4 Mb/s gives the same pictures), so 0.4 Mb/s is the
# starved tape transfer
CODECS = [
    ("lossless", ["-c:v", "ffv1", "-pix_fmt", "yuv444p"]),
    ("MPEG-2 1.2 Mb/s", ["-c:v", "mpeg2video", "-b:v", "1200k", "-maxrate", "1200k", "-bufsize", "400k", "-g", "12",
                         "-pix_fmt", "yuv420p"]),
    ("MPEG-2 0.4 Mb/s", ["-c:v", "mpeg2video", "-b:v", "400k", "-maxrate", "400k", "-bufsize", "200k", "-g", "12",
                         "-pix_fmt", "yuv420p"]),
    ("H.264 crf 32", ["-c:v", "libx264", "-crf", "32", "-preset", "medium", "-pix_fmt", "yuv420p"]),
    ("Motion-JPEG q 12", ["-c:v", "mjpeg", "-q:v", "12", "-pix_fmt", "yuvj420p"]),
]
QUICK_CODECS = ("lossless", "MPEG-2 1.2 Mb/s", "H.264 crf 32")


def cells(quick: bool) -> list[tuple[str, str, str]]:
    """(label, ffmpeg filter chain, codec) of every cell of the grid."""
    out = []
    for blur, bf in BLURS:
        for noise, nf in NOISES:
            for codec, _ in CODECS:
                if quick and codec not in QUICK_CODECS:
                    continue
                chain = ",".join(f for f in (f"scale={LR_W}:{LR_H}:flags=area", bf, nf) if f)
                out.append((f"{blur} · {noise} · {codec}", chain, codec))
    return out


def degrade(hr_file: Path, chain: str, codec: str, out: Path) -> Path:
    args = dict(CODECS)[codec]
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(hr_file), "-vf",
                    f"{chain},setparams=color_primaries=bt470bg:color_trc=smpte170m:colorspace=bt470bg:range=tv",
                    *args, str(out)], check=True)
    return out


# --- methods -------------------------------------------------------------------------------

def _frames_only(run):
    """One of bench_vsr's methods (LR frames → ×2 frames) with the file argument the preset needs."""
    return lambda lr, _path: run(lr)


def _preset(name: str, work: Path):
    from restore.job import JobOptions, run_job
    from restore.pipeline.spec import load_pipeline

    spec = load_pipeline(name)

    def run(_lr: list[np.ndarray], path: Path) -> list[np.ndarray]:
        out = work / f"{path.stem}.{name}.mkv"
        run_job(path, out, spec, JobOptions(overwrite=True, provenance=False))
        return gt.at_size(gt.read_clip(out), HR_W, HR_H)
    return run


def methods(work: Path) -> dict:
    found = {"bicubic": _frames_only(vsr._resize(cv2.INTER_CUBIC)),
             "lanczos": _frames_only(vsr._resize(cv2.INTER_LANCZOS4)),
             "restore-sr-x2": _frames_only(vsr._stage("restore-sr-x2"))}
    if vsr.REALESRGAN.is_file():
        found["Real-ESRGAN general v3"] = _frames_only(vsr._stage(str(vsr.REALESRGAN)))
    found["restore-vsr-x2-v5"] = _frames_only(vsr._stage("restore-vsr-x2-v5"))
    for name in vsr.candidates():                                   # alone, beside the shipped model
        found[Path(name).stem] = _frames_only(vsr._stage(name))
    found["preset default"] = _preset("default", work)
    found["preset sharp-source"] = _preset("sharp-source", work)
    return found


def framed(image: np.ndarray) -> np.ndarray:
    """The picture framed as a camera frames a scene: brought (area) to 1.6× the frame's width and cut
    around its centre, with room for the pan; a 480x360 window of the photograph at full size, from its
    corner, would be a patch of sky or shadow."""
    h, w = image.shape[:2]
    fit = min(1.0, 1.6 * HR_W / w)
    image = cv2.resize(image, (round(w * fit), round(h * fit)), interpolation=cv2.INTER_AREA)
    h, w = image.shape[:2]
    cw, ch = min(w, HR_W + 40), min(h, HR_H + 40)
    x0, y0 = (w - cw) // 2, (h - ch) // 2
    return np.ascontiguousarray(image[y0:y0 + ch, x0:x0 + cw])


def score(out: list[np.ndarray], truth: list[np.ndarray]) -> tuple[float, float]:
    """PSNR-Y and SSIM-Y as the video bench measures them (8-px border)."""
    assert len(out) == len(truth), (len(out), len(truth))
    psnr, ssim, _ = vsr.score(out, truth)
    return psnr, ssim


def main() -> None:
    quick = os.environ.get("RESTORE_BENCH_QUICK") == "1"
    pictures = heldout_images(2 if quick else 4)
    if not pictures:
        print("skipped: no held-out picture of the committed corpora is present (../shared)")
        return
    work = workdir("robustness")
    grid = cells(quick)
    found = methods(work)
    names = list(found)
    psnr = {n: np.zeros((len(grid), len(pictures))) for n in names}
    ssim = {n: np.zeros((len(grid), len(pictures))) for n in names}
    seconds = dict.fromkeys(names, 0.0)
    start = time.perf_counter()
    for p, (label, image) in enumerate(pictures):
        rng = np.random.default_rng([2412, p])
        angle = rng.uniform(0, np.pi / 2)   # right and down: gt.pan reflects the picture beyond its left and top
        truth_frames = gt.pan(framed(image), FRAMES, HR_W, HR_H, dx=0.7 * np.cos(angle), dy=0.7 * np.sin(angle))
        hr_file = gt.write_clip(truth_frames, work / f"truth-{p}.mkv", pix_fmt="yuv444p")
        truth = gt.read_clip(hr_file)          # the truth as every method's output is read: same decoding
        for c, (_cell, chain, codec) in enumerate(grid):
            lr_file = degrade(hr_file, chain, codec, work / f"lr-{p}-{c}.mkv")
            lr = gt.read_clip(lr_file)
            for name, run in found.items():
                t = time.perf_counter()
                out = run(lr, lr_file)
                seconds[name] += time.perf_counter() - t
                psnr[name][c, p], ssim[name][c, p] = score(out, truth)
        print(f"  {label}: {len(grid)} cells done ({time.perf_counter() - start:.0f} s)", flush=True)

    base = psnr["bicubic"].mean(axis=1)
    shown = [n for n in names if n not in ("bicubic", "lanczos")]
    rows = [[cell, float(base[c])] + [f"{psnr[n][c].mean() - base[c]:+.2f}" for n in shown]
            for c, (cell, _, _) in enumerate(grid)]
    print_table(f"PSNR-Y of bicubic and each method's difference to it, per degradation (mean over "
                f"{len(pictures)} held-out pictures, {FRAMES}-frame pans, {LR_W}x{LR_H} → {HR_W}x{HR_H}; "
                f"{time.perf_counter() - start:.0f} s)", ["degradation", "bicubic dB"] + shown, rows,
                "degradation made by ffmpeg alone (area downscale, gblur, noise, the encoder); pictures: "
                + ", ".join(label for label, _ in pictures))
    summary = []
    for n in names:
        if n == "bicubic":
            continue
        gain = psnr[n] - psnr["bicubic"]                     # cells × pictures
        cell_gain = gain.mean(axis=1)
        worst = int(np.argmin(cell_gain))
        summary.append([n, float(gain.mean()), float((ssim[n] - ssim["bicubic"]).mean()),
                        f"{int((cell_gain < 0).sum())} of {len(grid)}",
                        f"{int((gain < 0).sum())} of {gain.size}",
                        f"{cell_gain[worst]:+.2f} ({grid[worst][0]})", seconds[n] / (len(grid) * len(pictures))])
    print_table("Against bicubic over the whole grid", ["method", "Δ PSNR-Y dB", "Δ SSIM-Y",
                                                        "cells below bicubic", "clips below bicubic",
                                                        "worst cell Δ dB", "s per clip"], summary,
                f"a clip is one picture in one cell ({FRAMES} frames); s per clip includes each method's own "
                "start-up (the preset's is a whole job: decode, every stage, encode)")
