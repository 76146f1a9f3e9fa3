"""The presets on real and synthetic footage: speed per stage, flicker, NIQE, fidelity, and
accuracy against ground truth beside bicubic and the Real-ESRGAN general v3 checkpoint.

Real clips (no ground truth): the bundled sample and the first frames of the three
../shared/media/old-film clips, through each preset. Reported per run: seconds per
output frame of every stage; flicker index (restore.metrics.FlickerMeter: output change
where the source is static, relative to the source's — 1 = as steady as the source);
NIQE (lower = more natural, on every 4th frame); fidelity: PSNR-Y/SSIM-Y of the output
brought back to the source's geometry, against the source.

Synthetic (ground truth): a slow pan over the held-out region of the venue photograph,
degraded with our pal-broadcast model to 360×288 and restored ×2 by each method:
bicubic, the Real-ESRGAN general v3 checkpoint (×4, resized to ×2), and each preset.
Reproduce: `.venv/bin/python -m benchmarks presets` (part of `make bench`).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import numpy as np

from benchmarks.common import REPO, SHARED, need_shared, table, workdir
from restore.job import JobOptions, run_job
from restore.metrics import FlickerMeter, psnr_y, ssim_y
from restore.pipeline.spec import available_pipelines, load_pipeline

PRESETS = [p for p in ("default", "speech-576i", "film") if p in available_pipelines()]
FRAMES = 12


def _cut(src: Path, dst: Path, frames: int) -> Path:
    if not dst.exists():
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(src), "-map", "0:v:0",
                        "-frames:v", str(frames), "-c:v", "ffv1", str(dst)], check=True)
    return dst


def _clips(d: Path) -> dict[str, Path]:
    clips = {"sample": _cut(REPO / "samples" / "speech-pal-sample.mkv", d / "sample.mkv", FRAMES)}
    for name in ("oldfilm-001", "oldfilm-002", "oldfilm-003"):
        src = SHARED / "media" / "old-film" / f"{name}.mkv"
        if src.exists():
            clips[name] = _cut(src, d / f"{name}.mkv", FRAMES)
    return clips


def measure(source: Path, output: Path, niqe_every: int = 4) -> dict:
    from restore.review.align import aligned_pairs, plan_alignment
    from restore.review.metrics import niqe

    alignment = plan_alignment(source, output)
    flicker = FlickerMeter()
    psnrs, ssims, niqes = [], [], []
    for pair in aligned_pairs(source, output, alignment):
        psnrs.append(psnr_y(pair.after_aligned, pair.before))
        ssims.append(ssim_y(pair.after_aligned, pair.before))
        flicker.add(pair.before, pair.after)
        if pair.after_index % niqe_every == 0:
            value = niqe(pair.after)
            if value is not None:
                niqes.append(value)
    return {"fidelity_psnr": float(np.mean(psnrs)), "fidelity_ssim": float(np.mean(ssims)),
            "flicker": flicker.index, "niqe": float(np.mean(niqes)) if niqes else None}


def real_footage(d: Path) -> None:
    rows, stage_rows = [], []
    for clip_name, clip in _clips(d).items():
        for preset in PRESETS:
            out = d / f"{clip_name}.{preset}.mkv"
            result = run_job(clip, out, load_pipeline(preset), JobOptions(overwrite=True, provenance=False))
            m = measure(clip, out)
            rows.append([clip_name, preset, result.frames_out, result.seconds / result.frames_out,
                         m["flicker"], m["niqe"], m["fidelity_psnr"], m["fidelity_ssim"]])
            for t in result.stage_timings:
                stage_rows.append([clip_name, preset, t["stage"], t["seconds_per_frame"]])
    print("Real footage (first %d frames of each clip; fidelity = output brought back to the source's "
          "geometry vs the source)" % FRAMES)
    print(table(["clip", "preset", "frames out", "s/frame", "flicker idx", "NIQE", "fidelity PSNR-Y",
                 "fidelity SSIM-Y"], rows))
    print()
    print(table(["clip", "preset", "stage", "s/frame"], stage_rows))


def _pan_truth(n: int, w: int = 720, h: int = 576) -> list[np.ndarray]:
    venue = cv2.imread(str(SHARED / "corpora" / "venue" / "budgie-backgrounds__beacon-street-sunset.png"))
    venue = venue[:, 2560:, ::-1].astype(np.float32) / 255  # held-out region only
    frames = []
    for t in range(n):
        crop = venue[600 + t:600 + t + 2 * h, 200 + 3 * t:200 + 3 * t + 2 * w]
        frames.append(cv2.resize(crop, (w, h), interpolation=cv2.INTER_AREA))
    return frames


def _write(frames: list[np.ndarray], path: Path) -> Path:
    h, w = frames[0].shape[:2]
    proc = subprocess.Popen(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb48le",
                             "-s", f"{w}x{h}", "-framerate", "25", "-i", "pipe:0", "-c:v", "ffv1",
                             "-pix_fmt", "yuv444p10le", str(path)], stdin=subprocess.PIPE)
    for f in frames:
        proc.stdin.write((np.clip(f, 0, 1) * 65535 + 0.5).astype("<u2").tobytes())
    proc.stdin.close()
    proc.wait()
    return path


def synthetic(d: Path) -> None:
    from restore.media.decode import read_frames
    from restore.training.degrade import DegradationModel

    truth = _pan_truth(8)
    model = DegradationModel(preset="pal-broadcast")
    rng = np.random.default_rng(0)
    low = [model.degrade(t, rng, 2) for t in truth]
    low_path = _write(low, d / "synthetic-low.mkv")
    h, w = truth[0].shape[:2]
    results = {"bicubic": [np.clip(cv2.resize(x, (w, h), interpolation=cv2.INTER_CUBIC), 0, 1) for x in low]}
    esrgan = SHARED / "weights" / "realesr-general-x4v3.fp16-ncnn-conversion.pth"
    spec_text = f"stages:\n  - stage: superres\n    weights: {esrgan}\n    scale: 2\n"
    from restore.pipeline.spec import parse_pipeline

    candidates = [("Real-ESRGAN general v3 (x4→x2)", parse_pipeline(spec_text, source="esrgan.yaml"))]
    candidates += [(f"preset {p}", load_pipeline(p)) for p in PRESETS]
    rows = []
    for name, spec in candidates:
        out = d / f"synthetic.{name.split()[-1].strip('()')}.mkv"
        result = run_job(low_path, out, spec, JobOptions(overwrite=True, provenance=False, size=(w, h)
                                                         if any(s.name == "superres" for s in spec.stages) else None))
        ratio = result.frames_out // result.frames_in   # field-rate output: the first of each pair
        frames = [f.image for f in read_frames(out)][::ratio]
        if frames[0].shape[:2] != (h, w):
            frames = [cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in frames]
        results[name] = frames
        rows.append(result.seconds / result.frames_out)
    table_rows = []
    for i, (name, frames) in enumerate(results.items()):
        pairs = list(zip(frames[:len(truth)], truth))
        table_rows.append([name, np.mean([psnr_y(a, b, 4) for a, b in pairs]),
                           np.mean([ssim_y(a, b, 4) for a, b in pairs]), rows[i - 1] if i else None])
    print(f"Synthetic ground truth: {len(truth)} frames of a pan over the held-out venue region, degraded "
          f"(pal-broadcast) to {low[0].shape[1]}x{low[0].shape[0]}, restored to {w}x{h}")
    print(table(["method", "PSNR-Y", "SSIM-Y", "s/frame"], table_rows))


def main() -> None:
    if not need_shared("the presets bench (old-film clips, venue ground truth, Real-ESRGAN checkpoint)"):
        return
    d = workdir("presets")
    real_footage(d)
    print()
    synthetic(d)
