"""Energy of one restoration: our meter and codecarbon's over the same run, side by side.

The bundled sample (samples/speech-pal-sample.mkv, PAL) goes through the default pipeline
for ``FRAMES`` frames (``restore run --frames``), on the GPU when there is one (``auto``).
While the job runs with its own ``restore.energy.EnergyMeter`` (the figure it writes into
the provenance record), codecarbon's ``OfflineEmissionsTracker(country_iso_code="FRA")``
tracks the same process over the same span (``tracking_mode="process"``: the CPU share of
this process, not the machine's other load). Both print kWh and mean watts, with what each
assumed:

* ours: RAPL when readable, else CPU-seconds x a stated power per busy core (10 W by default,
  ``RESTORE_CPU_WATTS_PER_CORE``); the GPU the job ran on through NVML, or the reason it was not
  measured; RAM is not counted;
* codecarbon: RAPL when readable, else its CPU model (a TDP looked up by CPU name, or a
  constant) times the process's CPU load; RAM from its memory-size model; GPUs through NVML.

codecarbon is optional (``pip install 'restore[bench]'``, pinned 3.3.2): skipped cleanly without
it. Reproduce: ``make bench`` or ``.venv/bin/python -m benchmarks energy`` (``RESTORE_BENCH_FRAMES``
changes the frame count; ``RESTORE_BENCH_JSON=path`` writes the figures).
"""

from __future__ import annotations

import json
import logging
import os
import time

from benchmarks.common import REPO, table, workdir
from restore.energy import JOULES_PER_KWH

SAMPLE = REPO / "samples" / "speech-pal-sample.mkv"
FRAMES = int(os.environ.get("RESTORE_BENCH_FRAMES", "10"))


def _tracker():
    try:
        from codecarbon import OfflineEmissionsTracker
    except ImportError:
        print("codecarbon not installed (pip install 'restore[bench]'): only our meter is shown")
        return None
    logging.getLogger("codecarbon").setLevel(logging.ERROR)
    return OfflineEmissionsTracker(country_iso_code="FRA", save_to_file=False, log_level="error",
                                   tracking_mode="process", measure_power_secs=1, project_name="restore-bench")


def _codecarbon_assumptions(tracker, data) -> str:
    kinds, tdp = [], ""
    for hw in getattr(tracker, "_hardware", []):
        mode = getattr(hw, "_mode", None)
        kinds.append(f"{type(hw).__name__}" + (f" mode {mode}" if mode else ""))
        if getattr(hw, "_tdp", None) is not None:   # codecarbon's private fields: what its CPU model assumed
            tdp = f", TDP {hw._tdp} W over {getattr(hw, '_cpu_count', '?')} cores"
    cpu = (f"CPU '{data.cpu_model}' {data.cpu_power:.1f} W"
           + (f" (no RAPL: TDP model x process CPU load{tdp})" if not any("rapl" in k.lower() for k in kinds) else ""))
    return (f"{cpu}; RAM {data.ram_power:.1f} W (model); GPU {data.gpu_power:.1f} W ({int(data.gpu_count or 0)} "
            f"GPU(s)); tracking {data.tracking_mode}; hardware: {', '.join(kinds) or '?'}")


def main() -> None:
    from restore.job import JobOptions, run_job
    from restore.pipeline.spec import load_pipeline

    if not SAMPLE.exists():
        print(f"skipped: the bundled sample is missing ({SAMPLE}; make sample rebuilds it)")
        return
    out = workdir("energy") / "speech-pal-sample.energy.mkv"
    options = JobOptions(overwrite=True, frames=FRAMES, sign=False)
    tracker = _tracker()
    if tracker is not None:
        tracker.start()
    t0 = time.perf_counter()
    result = run_job(SAMPLE, out, load_pipeline("default"), options)
    wall = time.perf_counter() - t0
    if tracker is not None:
        tracker.stop()
    ours = (result.record or {}).get("energy") or {}
    parts = ours.get("parts", {})
    gpu = parts.get("gpu", {})
    secs = ours.get("seconds") or 0.0

    def watts(kwh):
        return f"{kwh * JOULES_PER_KWH / secs:.1f}" if secs else "-"

    rows = [["restore.energy", f"{ours.get('kwh', 0):.3e}", watts(ours.get("kwh", 0)),
             watts(parts.get("cpu", {}).get("kwh", 0)) + (" (est.)" if ours.get("is_estimate") else ""),
             "not counted", watts(gpu["kwh"]) if gpu.get("measured") else "not measured", f"{secs:.1f}"]]
    notes = [f"restore.energy: {ours.get('assumptions', 'no record')}"]
    figures = {"frames": FRAMES, "device": result.record.get("device") if result.record else None,
               "wall_seconds": wall, "ours": {k: ours.get(k) for k in ("kwh", "seconds", "cpu_seconds", "method",
                                                                       "is_estimate")} | {"gpu": gpu}}
    if tracker is not None:
        data = tracker.final_emissions_data
        rows.append(["codecarbon 3.3.2", f"{data.energy_consumed:.3e}",
                     f"{data.energy_consumed * JOULES_PER_KWH / data.duration:.1f}" if data.duration else "-",
                     f"{data.cpu_power:.1f}", f"{data.ram_power:.1f}", f"{data.gpu_power:.1f}", f"{data.duration:.1f}"])
        notes.append(f"codecarbon: {_codecarbon_assumptions(tracker, data)}")
        figures["codecarbon"] = {"kwh": data.energy_consumed, "seconds": data.duration, "cpu_w": data.cpu_power,
                                 "ram_w": data.ram_power, "gpu_w": data.gpu_power, "cpu_kwh": data.cpu_energy,
                                 "ram_kwh": data.ram_energy, "gpu_kwh": data.gpu_energy, "cpu_model": data.cpu_model,
                                 "tracking_mode": data.tracking_mode}
    print(f"default pipeline, {FRAMES} frames of the bundled PAL sample on {figures['device']}, "
          f"{wall:.1f} s wall (one run, both meters over it)")
    print(table(["meter", "kWh", "mean W", "CPU W", "RAM W", "GPU W", "seconds"], rows))
    print("  (our span starts once the input is probed and the device chosen; codecarbon's covers the whole call)")
    for note in notes:
        print(f"  {note}")
    target = os.environ.get("RESTORE_BENCH_JSON")
    if target:
        with open(target, "w") as fh:
            json.dump(figures, fh, indent=1)


if __name__ == "__main__":
    main()
