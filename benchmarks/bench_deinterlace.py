"""Deinterlacers against progressive ground truth (576i from 576p50 clips).

Each 50p clip is woven into 25i (TFF and BFF), deinterlaced back at field rate, and
each output frame is compared with the progressive frame of the same instant.
Clips: lavfi ``testsrc2`` (moving graphics, text) and a sub-pixel pan over a
corpus photo (architecture: fine detail). "Shimmer" is the frame-to-frame
luma change (8-bit units) on a *still* photo: the truth does not change, so all of
it is bob shimmer. Baseline: bwdif (ffmpeg).
"""

from __future__ import annotations

from fractions import Fraction

from benchmarks._archival import (interlace, lavfi_frames, mean, pan, photo, print_table, psnr_y, run_stage,
                                  ssim_y, flicker)
from benchmarks.common import need_shared
from restore.stages._vapoursynth import vapoursynth_available
from restore.stages.deinterlace import Deinterlace, DeinterlaceParams

FIELDS = 16           # 50p truth frames per clip → 8 interlaced frames
METHODS = [("bwdif", {}), ("yadif", {}), ("nnedi3", {}),
           ("qtgmc", {"preset": "fast"}), ("qtgmc", {"preset": "medium"}),
           ("qtgmc", {"preset": "slow"}), ("qtgmc", {"preset": "lossless"}), ("qtgmc", {"preset": "stable"})]


def clips() -> dict[str, list]:
    return {
        "testsrc2": lavfi_frames("testsrc2", FIELDS),
        "photo pan": pan(photo("budgie-backgrounds__casa-mila.jpg"), FIELDS, dx=2.3, dy=0.6),
    }


def deinterlace(method: str, extra: dict, woven: list, tff: bool):
    params = DeinterlaceParams(method=method, rate="field", field_order="tff" if tff else "bff", **extra)
    return run_stage(Deinterlace, params, woven, fps=Fraction(25), field_order="tt" if tff else "bb")


def main() -> None:
    if not need_shared("corpus photos and old-film clips"):
        return
    truths = clips()
    still = pan(photo("budgie-backgrounds__roman-colosseum.jpg"), 1, 0, 0) * FIELDS
    has_vs = vapoursynth_available()
    rows = []
    for method, extra in METHODS:
        if method in ("nnedi3", "qtgmc") and not has_vs:
            continue
        scores, ssims, speeds = {}, [], []
        for name, truth in truths.items():
            per_order = []
            for tff in (True, False):
                out, fps = deinterlace(method, extra, interlace(truth, tff), tff)
                assert len(out) == len(truth), f"{method}: {len(out)} frames for {len(truth)}"
                per_order.append(mean(psnr_y(o, t) for o, t in zip(out, truth)))
                if name == "photo pan":
                    ssims.append(mean(ssim_y(o, t) for o, t in zip(out, truth)))
                    speeds.append(fps)
            scores[name] = mean(per_order)
        still_out, _ = deinterlace(method, extra, interlace(still, True), True)
        label = method + (f" {extra['preset']}" if extra else "")
        rows.append([label, *scores.values(), mean(scores.values()), mean(ssims), flicker(still_out), mean(speeds)])
    print_table(
        "Deinterlace: 576i25 → 576p50 against the progressive truth (PSNR-Y dB, mean of TFF and BFF)",
        ["method", *(f"PSNR {n}" for n in truths), "PSNR mean", "SSIM-Y pan", "shimmer (still)", "fps (50p out, steady)"],
        rows,
        note=("baseline: bwdif. shimmer = mean |ΔY| between output frames of a still photo, 8-bit units "
              "(0 is perfect). fps: 720×576 field-rate output frames per second on this machine, pipes included, process start excluded."
              + ("" if has_vs else "\nVapourSynth not installed: nnedi3/qtgmc rows skipped (run make install).")),
    )


if __name__ == "__main__":
    main()
