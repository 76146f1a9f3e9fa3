"""Throughput: how close the pipeline runs to the model, and the model to the machine.

In one run it prints:
1. model-only fps (the network on decoded frames, in batches, nothing else) vs end-to-end fps
   (``run_job``: decode, stage, encode overlapping in their threads) for our SR model and for
   the Real-ESRGAN general v3 checkpoint in ../shared/weights (target ratio >= 0.9);
2. the compute limit: MACs per frame / the measured throughput of a plain 3x3 convolution
   on this CPU, and how much of it the model reaches;
3. bf16 vs fp32 (speed and PSNR) when the CPU has native bf16, else the line saying why not;
4. the cost of resumability: a segmented run (``run_resumable``) vs a whole-file run;
5. peak RSS of ``restore batch`` on a 10 s vs a 60 s input (target ratio <= 1.1).

Frames are small (the SR models take seconds per PAL frame on 2 cores): fps ratios and
the compute-limit fraction do not depend on the frame size, absolute fps do (stated).
Reproduce: ``make bench`` or ``.venv/bin/python -m benchmarks throughput``.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from benchmarks.common import SHARED, run_measured, synthetic_clip, table, workdir

SR_SIZE = "160x128"        # the SR models' input size here
SR_FRAMES = 20           # 16 timed: fewer are at the mercy of other load on the machine
BATCH = 4


def cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def sr_candidates() -> list[tuple[str, str]]:
    """(label, weights name or path) of the SR models we can load here."""
    from restore.errors import PipelineError
    from restore.models.registry import resolve_weights

    found = []
    try:
        resolve_weights("restore-sr-x2")
        found.append(("restore-sr-x2 (ours)", "restore-sr-x2"))
    except PipelineError as exc:
        print(f"skip restore-sr-x2: {exc}")
    general = sorted((SHARED / "weights").glob("realesr-general-x4v3*.pth")) if SHARED.is_dir() else []
    if general:
        found.append(("Real-ESRGAN general v3", str(general[0])))
    else:
        print("skip Real-ESRGAN general v3: no realesr-general-x4v3*.pth in ../shared/weights")
    return found


def model_only_fps(module, frames: list[np.ndarray]) -> tuple[float, list]:
    """fps of the network alone over batches 2.. (batch 1 warms up); also returns the outputs."""
    import torch

    outputs, t_start = [], None
    with torch.inference_mode():
        for i in range(0, len(frames), BATCH):
            if i == BATCH:
                t_start = time.perf_counter()
            x = torch.from_numpy(np.stack(frames[i:i + BATCH]).transpose(0, 3, 1, 2).copy())
            outputs.append(module(x.contiguous(memory_format=torch.channels_last)).float().numpy())
    return (len(frames) - BATCH) / (time.perf_counter() - t_start), outputs


def end_to_end_fps(clip: Path, weights: str, out: Path) -> float:
    """fps of run_job (decode, superres, FFV1 encode) over the same batches 2.. as the model-only figure."""
    from restore.job import JobOptions, run_job
    from restore.pipeline.spec import parse_pipeline

    spec = parse_pipeline(f"name: bench-sr\nstages:\n  - stage: superres\n    weights: {weights}\n"
                          "    precision: fp32\n    square_pixels: false\n", source="<bench>")
    stamps: dict[int, float] = {}
    options = JobOptions(overwrite=True, provenance=False, sign=False, batch_size=BATCH,
                         progress=lambda s: stamps.setdefault(s["done"], time.perf_counter()))
    run_job(clip, out, spec, options)
    return (SR_FRAMES - BATCH) / (stamps[SR_FRAMES] - stamps[BATCH])


def conv_macs_per_second(height: int, width: int) -> float:
    """Best throughput of a 64->64 3x3 convolution (the bulk of these SR networks' work) on a batch
    shaped like the models' input: the most this CPU gives such a layer, so a model's fps over it."""
    import torch

    conv = torch.nn.Conv2d(64, 64, 3, padding=1).eval().to(memory_format=torch.channels_last)
    x = torch.randn(BATCH, 64, height, width).contiguous(memory_format=torch.channels_last)
    macs = BATCH * 64 * 64 * 9 * height * width
    with torch.inference_mode():
        conv(x)
        best = math.inf
        for _ in range(5):
            t0 = time.perf_counter()
            for _ in range(3):
                conv(x)
            best = min(best, (time.perf_counter() - t0) / 3)
    return macs / best


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """restore.metrics.psnr_y (BT.601 limited-range Y) of the clipped pictures."""
    from restore.metrics import psnr_y

    return psnr_y(np.clip(a, 0, 1), np.clip(b, 0, 1))


def bench_models(d: Path, flags: set[str]) -> None:
    import torch

    from restore.media.decode import read_frames
    from restore.models.archs import count_macs
    from restore.models.registry import load_model
    from restore.pipeline.runner import configure_threads

    cores = configure_threads()
    clip = synthetic_clip(d / f"sr-{SR_SIZE}.mkv", SR_FRAMES / 25, size=SR_SIZE)
    frames = [f.image for f in read_frames(clip)]
    conv_rate = conv_macs_per_second(*frames[0].shape[:2])
    rows, limit_rows, bf16_rows = [], [], []
    for label, weights in sr_candidates():
        model = load_model(weights)
        module = model.module.to(memory_format=torch.channels_last)
        model_fps, reference = model_only_fps(module, frames)
        e2e = end_to_end_fps(clip, weights, d / f"e2e-{model.name}.mkv")
        rows.append([label, f"x{model.scale}", model_fps, e2e, e2e / model_fps])
        h, w = frames[0].shape[:2]
        macs = count_macs(model.module, h, w)
        limit = conv_rate / macs
        pal = conv_rate / count_macs(model.module, 576, 720)
        limit_rows.append([label, macs / 1e9, limit, model_fps / limit, 1 / pal])
        if {"avx512_bf16", "amx_bf16"} & flags:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                bf16_fps, outs = model_only_fps(module, frames)
            worst = min(psnr(a, b) for a, b in zip(outs, reference))
            bf16_rows.append([label, model_fps, bf16_fps, bf16_fps / model_fps, worst])
    print(f"CPU: {cores} cores, torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"SR input {SR_SIZE}, {SR_FRAMES} frames, batches of {BATCH} (first batch = warm-up, not timed)")
    if not rows:
        print("no SR model available: model/end-to-end comparison skipped")
        return
    print(table(["model", "scale", "model-only fps", "end-to-end fps", "ratio"], rows))
    print("target: end-to-end / model-only >= 0.9")
    print(f"\nconvolution throughput (64->64 3x3, fp32, channels_last): {conv_rate / 1e9:.1f} GMAC/s")
    print(table(["model", "GMAC/frame", "limit fps", "reached", "limit s/PAL frame"], limit_rows))
    if bf16_rows:
        print(table(["model", "fp32 fps", "bf16 fps", "speed-up", "worst PSNR bf16 vs fp32 dB"], bf16_rows))
        print("tolerance: PSNR >= 40 dB against fp32")
    else:
        have = sorted(f for f in flags if f.startswith(("avx512", "avx2", "amx")))
        print(f"bf16: not measured: this CPU has no native bf16 (flags: {', '.join(have) or 'none'}); "
              "torch would emulate it more slowly than fp32, so the SR stage's 'auto' precision is fp32 here")


def bench_segments(d: Path) -> None:
    """Resumability's price: overlap frames recomputed and a lossless intermediate written and read back."""
    from restore.batch.segments import run_resumable
    from restore.job import JobOptions, run_job
    from restore.pipeline.spec import parse_pipeline

    clip = synthetic_clip(d / "seg-360x288.mkv", 4, size="360x288")
    frames = 100
    spec = parse_pipeline("name: bench-deflicker\nstages:\n  - stage: deflicker\n    radius: 3\n", source="<bench>")
    rows = []
    for label, run in (("whole file (run_job)", lambda o: run_job(clip, d / "whole.mkv", spec, o)),
                       ("segments of 25 (run_resumable)",
                        lambda o: run_resumable(clip, d / "segmented.mkv", spec, o, segment_frames=25))):
        t0 = time.perf_counter()
        run(JobOptions(overwrite=True, provenance=False, sign=False))
        wall = time.perf_counter() - t0
        rows.append([label, frames, wall, frames / wall])
    rows.append(["segmented / whole (fps)", "", "", rows[1][3] / rows[0][3]])
    per_segment = (rows[1][2] - rows[0][2]) / (frames // 25)
    print("\nresumable segments vs whole file (deflicker radius 3, 360x288, 100 frames; a cheap stage, so "
          "the fixed cost per segment shows at its largest)")
    print(table(["run", "frames", "wall s", "fps"], rows))
    print(f"fixed cost per segment: {per_segment:.2f} s (two ffmpeg starts, pipeline set-up, the overlap "
          "frames, a lossless round trip); against 250 frames of SR at seconds per frame it is well under 1 %")
    for path in d.glob(".segmented.mkv.work"):
        raise RuntimeError(f"work folder left behind: {path}")


def bench_seek(d: Path) -> None:
    """A segment near the end of a long file: decoding from the top vs seeking by the packet index."""
    from restore.batch.segments import frame_times
    from restore.media.decode import VideoReader
    from restore.media.probe import probe, video_format

    clip = synthetic_clip(d / "seek-720x576-60s.mkv", 60, size="720x576")
    report = probe(clip, count=False)
    fmt = video_format(report)
    times = frame_times(clip, 1500, report["container"])
    start, rows, decoded = 1450, [], {}
    for label, kwargs in (("select from the top", {}), ("seek (start_pts)", {"start_pts": times[start]})):
        t0 = time.perf_counter()
        decoded[label] = [f.raw for f in VideoReader(clip, fmt, mode="native", start_frame=start, max_frames=25,
                                                     **kwargs)]
        rows.append([label, len(decoded[label]), time.perf_counter() - t0])
    same = len(set(map(tuple, decoded.values()))) == 1
    print(f"\nstarting a 25-frame segment at frame {start} of a 60 s PAL FFV1 file (identical frames: {same})")
    print(table(["start", "frames", "seconds"], rows))
    waste = 90000 * 360 / 2 / (start / max(rows[0][2] - rows[1][2], 1e-3)) / 3600
    print(f"without seeking, an hour of PAL in segments of 250 frames would spend about {waste:.1f} h decoding "
          "frames only to throw them away (the cost grows with each segment's position)")


def bench_batch_memory(d: Path) -> None:
    peaks = {}
    rows = []
    for seconds in (10, 60):
        folder = d / f"batch-{seconds}s"
        (folder / "out").mkdir(parents=True, exist_ok=True)
        synthetic_clip(folder / f"clip-{seconds}s.mkv", seconds, size="192x144")
        for old in (folder / "out").glob("*.mkv"):
            old.unlink()
        job = folder / "jobs.yaml"
        job.write_text("inputs: ['*.mkv']\noutput: {folder: out}\npipeline: passthrough\n"
                       "options: {segment_frames: 250, sign: false, provenance: false}\n")
        wall, peak, res = run_measured(["batch", str(job), "-q"])
        if res.returncode != 0:
            raise RuntimeError(f"batch {seconds}s failed: {res.stderr.strip()}")
        peaks[seconds] = peak
        rows.append([f"{seconds} s", seconds * 25, wall, peak / 2**20])
    rows.append(["ratio 60/10", "", "", peaks[60] / peaks[10]])
    print("\nrestore batch peak RSS, passthrough 192x144 in segments of 250 frames")
    print(table(["input", "frames", "wall s", "peak RSS MiB"], rows))
    print("target: ratio <= 1.1 (the SR pipeline's own 10 s vs 60 s figures: bench memory)")


def main() -> None:
    d = workdir("throughput")
    try:
        import restore.stages.superres  # noqa: F401
        from restore.models.registry import load_model  # noqa: F401
    except ImportError as exc:
        print(f"skip SR throughput: the superres stage is not importable yet ({exc})")
    else:
        bench_models(d, cpu_flags())
    bench_segments(d)
    bench_seek(d)
    bench_batch_memory(d)
