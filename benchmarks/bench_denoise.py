"""Grain/noise reduction: synthetic grain on a clean pan (ground truth) and real old film.

Synthetic: ≈1 px correlated monochrome grain (σ = 6/255) over a sub-pixel pan across a
corpus photo. Scores against the clean truth: PSNR-Y, SSIM-Y, detail kept (share of
the truth's Laplacian present in the output, on the most textured quarter of the
picture; grain is not credited) and temporal flicker (frame-to-frame luma change
on a still shot with the same grain; the truth's is 0).
Old film (oldfilm-002, no truth): detail kept = Laplacian energy of the temporal
mean of the output over that of the input (the mean keeps still detail and averages
grain away, so this shows blurring, not grain removal) and flicker relative to the input.
Baseline: hqdn3d (ffmpeg).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from benchmarks._archival import (OLD_FILM, detail_kept, film_grain, flicker, laplacian, luma, mean, pan, photo,
                                  print_table, psnr_y, read_old_film, run_stage, ssim_y, textured)
from benchmarks.common import need_shared
from restore.stages._vapoursynth import vapoursynth_available
from restore.stages.denoise import VS_METHODS, Denoise, DenoiseParams

FRAMES = 12
METHODS = [("hqdn3d", {}), ("hqdn3d", {"strength": 2.0}), ("hqdn3d", {"strength": 3.0}),
           ("atadenoise", {}), ("nlmeans", {}), ("bm3d", {}), ("dfttest", {}),
           ("mdegrain", {"radius": 1}), ("mdegrain", {"radius": 2}), ("mdegrain", {"radius": 3}),
           ("mdegrain", {"radius": 3, "strength": 1.5})]
INNER = slice(3, -3)   # temporal filters see fewer neighbours at the clip's ends


def label(method: str, extra: dict) -> str:
    return method + (f" r{extra['radius']}" if "radius" in extra else "") + (
        f" s{extra['strength']:g}" if "strength" in extra else "")


def still_detail(images: list[np.ndarray]) -> float:
    return float(np.mean(laplacian(luma(np.mean(images, axis=0))) ** 2))


def main() -> None:
    if not need_shared("corpus photos and old-film clips"):
        return
    has_vs = vapoursynth_available()
    truth = pan(photo("lomiri-wallpapers-16.04__Bridge_by_Sander_Klootwijk.jpg"), FRAMES, dx=1.7, dy=0.4)
    grainy = film_grain(truth)
    still_truth = [truth[0]] * FRAMES
    still_grainy = film_grain(still_truth, seed=12)
    masks = [textured(t) for t in truth]
    old_film = OLD_FILM / "oldfilm-002.mkv"
    film, film_fps = read_old_film(old_film.name, 24) if old_film.exists() else ([], Fraction(24))

    rows = [["(grainy input)", mean(psnr_y(g, t) for g, t in zip(grainy[INNER], truth[INNER])),
             mean(ssim_y(g, t) for g, t in zip(grainy[INNER], truth[INNER])), 1.0, flicker(still_grainy),
             1.0, 1.0, "-"]]
    for method, extra in METHODS:
        if method in VS_METHODS and not has_vs:
            continue
        params = DenoiseParams(method=method, **extra)
        out, fps = run_stage(Denoise, params, grainy)
        out_still, _ = run_stage(Denoise, params, still_grainy)
        pairs = list(zip(out[INNER], truth[INNER], masks[INNER]))
        film_detail = film_flicker = float("nan")
        if film:
            film_out, _ = run_stage(Denoise, params, film, fps=film_fps)
            film_detail = still_detail(film_out[INNER]) / still_detail(film[INNER])
            film_flicker = flicker(film_out[INNER]) / flicker(film[INNER])
        rows.append([label(method, extra), mean(psnr_y(o, t) for o, t, _ in pairs),
                     mean(ssim_y(o, t) for o, t, _ in pairs), mean(detail_kept(o, t, m) for o, t, m in pairs),
                     flicker(out_still[INNER]), film_detail, film_flicker, fps])
    print_table(
        "Denoise: synthetic grain σ=6/255 on a 720×576 pan (truth) and oldfilm-002 (first 24 frames)",
        ["method", "PSNR-Y", "SSIM-Y", "detail kept", "flicker (still)", "film detail kept", "film flicker ratio",
         "fps (steady)"],
        rows,
        note=("baseline: hqdn3d (strengths 1-3 trace its noise/detail trade-off). strength 1 unless named (s). detail kept: 1.0 = all of the truth's fine detail. "
              "flicker: mean |ΔY| (8-bit) on a still shot, truth 0. film ratios are output/input (lower flicker = "
              "steadier; detail near 1.0 = nothing blurred)."
              + ("" if has_vs else "\nVapourSynth not installed: mdegrain/dfttest rows skipped (run make install).")),
    )


if __name__ == "__main__":
    main()
