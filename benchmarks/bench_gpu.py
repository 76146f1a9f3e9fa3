"""Inference on a CUDA GPU: frames per second and joules per frame of our models, by precision.

Skipped without CUDA. For each model, a batch of PAL frames (720×576; windows of 2·radius+1
frames for a multi-frame model, registration included) runs repeatedly for a few seconds per
precision; energy is read from NVML's total-energy counter of the GPU in use
(restore.energy.EnergyMeter), so J/frame is measured, not estimated. ``RESTORE_BENCH_JSON=path``
also writes the table as JSON.

    python -m benchmarks gpu
"""

from __future__ import annotations

import json
import os
import time

import torch

from benchmarks._archival import print_table

MODELS = ("restore-vsr-x2-v5", "restore-vsr-x2-v4", "restore-vsr-x2-v3", "restore-vsr-x2-v2", "restore-vsr-x2", "restore-sr-x2", "restore-face-v2", "restore-face-v1")
SECONDS = 2.0


def _inputs(model, batch: int, device: str) -> torch.Tensor:
    radius = int(model.card.get("radius", 0))
    if model.card.get("crop_size"):
        size = int(model.card["crop_size"])
        return torch.rand(batch * 8, 3, size, size, device=device)          # faces: many crops per call
    if radius:
        return torch.rand(batch, 2 * radius + 1, 3, 576, 720, device=device)
    return torch.rand(batch, 3, 576, 720, device=device)


def _run(model, x: torch.Tensor, dtype: torch.dtype) -> None:
    from restore.models.motion import align_window

    with torch.inference_mode(), torch.autocast("cuda", dtype=dtype, enabled=dtype != torch.float32):
        if x.dim() == 5:
            x = align_window(x)
        model.module(x)


def main() -> None:
    if not torch.cuda.is_available():
        print("no CUDA device: skipped")
        return
    from restore.energy import EnergyMeter
    from restore.errors import PipelineError
    from restore.models.registry import load_model

    device = "cuda"
    name = torch.cuda.get_device_name(0)
    rows, records = [], []
    for model_name in MODELS:
        try:
            model = load_model(model_name, device=device)
        except PipelineError as exc:
            print(f"  ({model_name}: {exc})")
            continue
        for dtype, batch in ((torch.float32, 8), (torch.bfloat16, 8), (torch.float16, 8), (torch.float16, 1)):
            if True:
                x = _inputs(model, batch, device)
                _run(model, x, dtype)
                torch.cuda.synchronize()
                meter = EnergyMeter(device=device).start()
                t0, calls = time.perf_counter(), 0
                while time.perf_counter() - t0 < SECONDS:
                    _run(model, x, dtype)
                    calls += 1
                torch.cuda.synchronize()
                seconds = time.perf_counter() - t0
                report = meter.stop()
                items = calls * x.shape[0]
                gpu_j = report.parts.get("gpu", {}).get("kwh", 0.0) * 3.6e6
                unit = "face" if x.dim() == 4 and model.card.get("crop_size") else "frame"
                record = {"model": model_name, "dtype": str(dtype).replace("torch.", ""), "batch": x.shape[0],
                          f"{unit}s_per_s": round(items / seconds, 2), f"gpu_joules_per_{unit}": round(gpu_j / items, 4),
                          "gpu": name}
                records.append(record)
                rows.append([model_name, record["dtype"], x.shape[0], f"{items / seconds:.1f} {unit}s/s",
                             f"{gpu_j / items:.3f} J/{unit}"])
    print_table(f"inference on {name} (PAL 720×576 frames; 128-px face crops)",
                ["model", "precision", "batch", "throughput", "GPU energy"], rows,
                note="energy: NVML total-energy counter of the whole GPU over the timed loop")
    target = os.environ.get("RESTORE_BENCH_JSON")
    if target:
        with open(target, "w") as fh:
            json.dump(records, fh, indent=1)
