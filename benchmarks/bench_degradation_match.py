"""Do synthetic training degradations land near real archival footage? (issue 3, item 3)

For each clip of ../shared/media/old-film: `restore analyze` figures of the real footage,
then the same figures measured (same code) on synthetic clips made from a corpus photo
panned over 16 frames and degraded ×2 by
  * the plain `film` preset (baseline),
  * the preset centred on the footage (`match:`, DegradationModel.from_analysis).
"dist" is the mean over figures of |synthetic − real| / (|real| + floor).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CLIPS = ["oldfilm-001.mkv", "oldfilm-002.mkv", "oldfilm-003.mkv"]
FIGURES = ["noise_sigma", "edge_width_px", "blockiness", "flicker", "dust_per_mpx", "colourfulness"]
FRAMES = 16
SCALE = 2


def _hr_clip() -> list[np.ndarray]:
    from restore.training.corpus import Corpus
    from restore.training.degradations.match import panned_clip

    corpus = Corpus.load(REPO / "corpora" / "general")
    entry = next(e for e in corpus.select(split="train") if e.rel.endswith("casa-mila.jpg"))
    return panned_clip(entry.load_rgb(), FRAMES)


def throughput(hr: list[np.ndarray], batch: int = 16) -> None:
    """Training-pair generation speed per preset: one patch at a time vs a batch (one ffmpeg run)."""
    import time

    from restore.training.degrade import PRESETS, DegradationModel

    patches = [frame[:256, :256] for frame in hr][:batch]
    print("\nDegradation throughput, 256 px HR patches → 64 px LR (x4), patches per second (baseline: realesrgan)")
    print(f"{'preset':<16}{'one at a time':>15}{f'batch of {batch}':>15}")
    for name in ["realesrgan"] + [p for p in PRESETS if p != "realesrgan"]:
        model = DegradationModel(preset=name)
        rng = np.random.default_rng(0)
        model.degrade(patches[0], rng, 4)  # imports (torch through basicsr) are not throughput
        start = time.perf_counter()
        for patch in patches:
            model.degrade(patch, rng, 4)
        single = len(patches) / (time.perf_counter() - start)
        start = time.perf_counter()
        model.degrade_batch(patches, rng, 4)
        batched = len(patches) / (time.perf_counter() - start)
        print(f"{name:<16}{single:>15.1f}{batched:>15.1f}")


def main() -> None:
    if not (SHARED / "media" / "old-film").is_dir() or not (SHARED / "corpora" / "general").is_dir():
        print("bench_degradation_match: ../shared/media/old-film or ../shared/corpora absent, skipped")
        return
    from restore.training.analyze import analyze_footage
    from restore.training.degrade import DegradationModel
    from restore.training.degradations.match import figure_distance, measure

    hr = _hr_clip()
    header = f"{'clip':<16}{'model':<14}" + "".join(f"{k:>15}" for k in FIGURES) + f"{'dist':>8}"
    print("\nSynthetic degradation vs real footage (figures from restore.training.analyze)")
    print(header)
    print("-" * len(header))
    for name in CLIPS:
        real = analyze_footage(SHARED / "media" / "old-film" / name, max_frames=60)
        baseline = measure(DegradationModel(preset="film"), hr, np.random.default_rng(0), SCALE)
        matched = measure(DegradationModel.from_analysis(real, preset="film"), hr, np.random.default_rng(0), SCALE)
        for label, stats in (("real", real), ("film preset", baseline), ("match:", matched)):
            cells = "".join(f"{stats.get(k) if stats.get(k) is not None else '-':>15}" for k in FIGURES)
            dist = "" if label == "real" else f"{figure_distance(stats, real):8.2f}"
            print(f"{name if label == 'real' else '':<16}{label:<14}{cells}{dist}")
    print("dist: mean relative distance to the real clip's figures (lower is nearer); "
          f"{FRAMES} synthetic frames of {hr[0].shape[1] // SCALE}x{hr[0].shape[0] // SCALE}")
    throughput(hr)


if __name__ == "__main__":
    main()
