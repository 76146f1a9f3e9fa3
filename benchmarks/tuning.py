"""The tuning set: where a model or preset choice is made, before a held-out bench checks it once.

Built only from **training-split** pictures of ``corpora/general`` (the held-out benches read split
``heldout``; the two never meet, ``tests/test_tuning_set.py``), in the two families of damage the
held-out benches use, so a choice made here can be checked there without having been fitted to it:

* **pal-broadcast**: 20 pictures, one of the video bench's five camera motions each, degraded by our
  ``pal-broadcast`` model (what the SR models are trained for), and the same truths recorded cleanly
  (area downscale only: a digital master, a good scan);
* **grid**: 4 pictures panned as the robustness bench pans them, damaged by ffmpeg alone — sharp or
  soft (``gblur`` σ 0.8) × clean, white noise σ 6 or 1-px grain σ 6 × lossless, MPEG-2 1.2 Mb/s or
  H.264 crf 32: 72 clips, 240×180 brought back to 480×360.

Per clip the Δ PSNR-Y over bicubic of ``restore-vsr-x2-v5`` (the presets' SR) and of every model named in
``RESTORE_BENCH_VSR`` (registry names or paths), through the ``superres`` stage. Whole presets run as
``restore run`` jobs on the grid's clean and white-noise clips, lossless and MPEG-2 (32 clips):
``RESTORE_TUNING_PRESETS=default,path/to/x.yaml``; ``RESTORE_TUNING_ABLATE=default`` runs that preset and
the preset without each of its stages in turn.

    python -m benchmarks.tuning      # ~6 min on 2 cores for one model; each preset ~2.5 min more

Not part of ``make bench``: its pictures are training pictures, so its figures say where to look, not
how good a model is.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import cv2
import numpy as np

from benchmarks import bench_robustness as br
from benchmarks import bench_vsr as vsr
from benchmarks import ground_truth as gt
from benchmarks._archival import print_table
from benchmarks.common import workdir

REPO = Path(__file__).resolve().parents[1]
BROADCAST_PICTURES = 20
GRID_PICTURES = 4
BLURS = (("sharp", None), ("soft", "gblur=sigma=0.8"))
NOISES = (("clean", 0, 0.0), ("white 6", 6, 0.0), ("grain 6", 6, 1.0))
CODECS = ("lossless", "MPEG-2 1.2 Mb/s", "H.264 crf 32")
PRESET_NOISES = ("clean", "white 6")
PRESET_CODECS = ("lossless", "MPEG-2 1.2 Mb/s")


def training_entries() -> list:
    """Training-split entries of corpora/general whose files are present, in label order."""
    from restore.training.corpus import Corpus

    folder = REPO / "corpora" / "general"
    if not (folder / "MANIFEST.tsv").is_file():
        return []
    entries = [e for e in Corpus.load(folder).select(split="train") if e.path.is_file()]
    return sorted(entries, key=lambda e: e.label())


def spread(entries: list, count: int, phase: int) -> list:
    """``count`` entries evenly spaced through the list, starting ``1/phase`` of a step in."""
    step = max(1, len(entries) // count)
    return entries[step // phase::step][:count]


def broadcast_part(entries: list, models: dict) -> list[dict]:
    from restore.training.degrade import DegradationModel

    model = DegradationModel(preset="pal-broadcast")
    rows = []
    for i, entry in enumerate(spread(entries, BROADCAST_PICTURES, 3)):
        motion = vsr.MOTIONS[i % len(vsr.MOTIONS)]
        truth = vsr.camera(entry.load_rgb(), motion, np.random.default_rng([99, i]))
        recorded = list(model.degrade_clip(truth, np.random.default_rng([99, i, 1]), vsr.SCALE))
        clean = [cv2.resize(f, (f.shape[1] // vsr.SCALE, f.shape[0] // vsr.SCALE), interpolation=cv2.INTER_AREA)
                 for f in truth]
        for part, source in (("pal-broadcast", recorded), ("clean", clean)):
            bicubic = vsr.score(vsr._resize(cv2.INTER_CUBIC)(source), truth)[0]
            gains = {name: vsr.score(run(source), truth)[0] - bicubic for name, run in models.items()}
            rows.append({"part": part, "clip": f"{entry.label()} · {motion}", **gains})
    return rows


def _record(frames: list[np.ndarray], codec: str, path: Path) -> Path:
    args = dict(br.CODECS)[codec]
    return gt.write_clip(frames, path, pix_fmt="yuv444p" if codec == "lossless" else "yuv420p",
                         codec=args[:2] + [a for a in args[2:] if a not in ("yuv444p", "yuv420p", "-pix_fmt")])


def grid_part(entries: list, models: dict, presets: dict, work: Path) -> list[dict]:
    from restore.job import JobOptions, run_job

    rows = []
    for p, entry in enumerate(spread(entries, GRID_PICTURES, 2)):
        angle = np.random.default_rng([778, p]).uniform(0, np.pi / 2)
        frames = gt.pan(br.framed(entry.load_rgb()), br.FRAMES, br.HR_W, br.HR_H,
                        dx=0.7 * np.cos(angle), dy=0.7 * np.sin(angle))
        hr_file = gt.write_clip(frames, work / "truth.mkv", pix_fmt="yuv444p")
        truth = gt.read_clip(hr_file)
        for blur, blur_filter in BLURS:
            chain = ",".join(f for f in (f"scale={br.LR_W}:{br.LR_H}:flags=area", blur_filter) if f)
            clean = gt.read_clip(br.degrade(hr_file, chain, "lossless", work / "clean.mkv"))
            for noise, sigma, grain in NOISES:
                noisy = gt.noise(clean, sigma=sigma / 255, grain=grain, seed=p * 31 + sigma) if sigma else clean
                for codec in CODECS:
                    lr_file = _record(noisy, codec, work / "lr.mkv")
                    lr = gt.read_clip(lr_file)
                    bicubic = br.score(vsr._resize(cv2.INTER_CUBIC)(lr), truth)[0]
                    gains = {name: br.score(run(lr), truth)[0] - bicubic for name, run in models.items()}
                    if noise in PRESET_NOISES and codec in PRESET_CODECS:
                        for name, spec in presets.items():
                            out = work / "preset.mkv"
                            run_job(lr_file, out, spec, JobOptions(overwrite=True, provenance=False))
                            restored = gt.at_size(gt.read_clip(out), br.HR_W, br.HR_H)
                            gains[name] = br.score(restored, truth)[0] - bicubic
                    rows.append({"part": "grid", "clip": f"{entry.label()} · {blur} · {noise} · {codec}", **gains})
    return rows


def _presets() -> dict:
    from restore.pipeline.spec import load_pipeline, parse_pipeline

    found = {}
    for name in filter(None, os.environ.get("RESTORE_TUNING_PRESETS", "").split(",")):
        found[f"preset {Path(name).stem}"] = load_pipeline(name)
    ablate = os.environ.get("RESTORE_TUNING_ABLATE")
    if ablate:
        base = load_pipeline(ablate)
        found[f"preset {base.name}"] = base
        for drop in base.stages:
            kept = [f"  - {json.dumps(s.as_dict())}\n" for s in base.stages if s is not drop]
            found[f"{base.name} without {drop.name}"] = parse_pipeline("stages:\n" + "".join(kept),
                                                                     source=f"{base.name}-{drop.name}")
    return found


def summary(rows: list[dict], names: list[str]) -> list[list]:
    out = []
    for part in ("pal-broadcast", "clean", "grid"):
        for name in names:
            gains = np.array([r[name] for r in rows if r["part"] == part and name in r])
            if gains.size:
                out.append([part, name, gains.size, float(gains.mean()), int((gains < 0).sum()), float(gains.min())])
    return out


def main() -> None:
    entries = training_entries()
    if not entries:
        print("skipped: no training picture of corpora/general is present (../shared)")
        return
    models = {"restore-vsr-x2-v5": vsr._stage("restore-vsr-x2-v5")}
    for name in vsr.candidates():
        models[Path(name).stem] = vsr._stage(name)
    presets = _presets()
    start = time.perf_counter()
    rows = broadcast_part(entries, models) + grid_part(entries, models, presets, workdir("tuning"))
    names = list(models) + list(presets)
    print_table(f"Tuning set: Δ PSNR-Y over bicubic ({time.perf_counter() - start:.0f} s)",
                ["part", "method", "clips", "mean Δ dB", "clips below", "worst Δ dB"], summary(rows, names),
                "training-split pictures only; presets on the grid's clean and white-noise, lossless and MPEG-2 clips")
    worst = sorted(rows, key=lambda r: min(r[n] for n in names if n in r))[:5]
    print_table("Worst clips", ["part", "clip"] + names,
                [[r["part"], r["clip"]] + [f"{r[n]:+.2f}" if n in r else "" for n in names] for r in worst])


if __name__ == "__main__":
    main()
