"""Dust (one-frame specks) and vertical scratches on a moving ground truth, and a look at old film.

Synthetic: a sub-pixel pan over a corpus photo with a fast-moving object (a dark
disc crossing at 9 px/frame), plus dark and bright blotches (radius 1–4 px, one frame
each) and 1–2 px vertical scratches (wandering by a pixel) with a shutter-like
vertical brightness edge that must stay. Scores: recall (share of defect pixels
brought back within 0.08 of the truth), precision (share of changed pixels that lie
on a defect or its 2-px rim), PSNR-Y of the defect pixels before/after, PSNR-Y outside
the defects (output vs input: 99 means untouched) and the share of the moving
object's pixels changed.
Old film (oldfilm-002, no truth): share of pixels each method changed per frame.
Baseline: doing nothing.
"""

from __future__ import annotations


import cv2
import numpy as np

from benchmarks._archival import (OLD_FILM, luma, mean, pan, photo, print_table, psnr_y, read_old_film, run_stage)
from benchmarks.common import need_shared
from restore.stages._vapoursynth import vapoursynth_available
from restore.stages.dust import Dust, DustParams
from restore.stages.scratches import Scratches, ScratchesParams

FRAMES = 10
SPEED = 9                       # px/frame of the moving object
INNER = range(1, FRAMES - 1)    # the first and last frames have one neighbour only


def moving_object_mask(k: int, shape) -> np.ndarray:
    mask = np.zeros(shape[:2], np.uint8)
    cv2.circle(mask, (60 + SPEED * k, 300), 40, 1, -1)
    return mask.astype(bool)


def make_truth() -> list[np.ndarray]:
    frames = pan(photo("budgie-backgrounds__piazza-gae-aulenti.jpg"), FRAMES, dx=1.3, dy=0.3)
    out = []
    for k, f in enumerate(frames):
        f = f.copy()
        f[moving_object_mask(k, f.shape)] = (0.15, 0.12, 0.1)
        f[:, :40] *= 0.55      # a shutter / frame-line edge at column 40
        out.append(f)
    return out


def add_dust(truth, seed=21):
    """(dirty frames, painted defect pixels, the blotches' whole discs)."""
    rng = np.random.default_rng(seed)
    dirty, masks, regions = [], [], []
    for k, f in enumerate(truth):
        f = f.copy()
        mask = np.zeros(f.shape[:2], np.uint8)
        for _ in range(40):
            cy, cx = int(rng.integers(20, f.shape[0] - 20)), int(rng.integers(50, f.shape[1] - 20))
            if moving_object_mask(k, f.shape)[max(cy - 45, 0):cy + 45, max(cx - 45, 0):cx + 45].any():
                continue     # the object is for the "untouched" check; specks on it are a separate case
            cv2.circle(mask, (cx, cy), int(rng.integers(1, 5)), 1, -1)
            level = 0.03 if rng.random() < 0.6 else 0.95
            f[mask.astype(bool) & (np.abs(luma(f) - level) > 0.2)] = level
        dirty.append(f)
        masks.append((np.abs(f - truth[k]).max(axis=2) > 2 / 255))
        regions.append(mask.astype(bool))
    return dirty, masks, regions


def add_scratches(truth, seed=22):
    rng = np.random.default_rng(seed)
    dirty, masks = [], []
    for f in truth:
        f = f.copy()
        for i, x in enumerate((150, 333, 512, 640)):
            x += int(rng.integers(-1, 2))
            width, sign = 1 + i % 2, (1 if i % 2 == 0 else -1)
            f[30:-30, x:x + width] = np.clip(f[30:-30, x:x + width] + 0.18 * sign, 0, 1)
        dirty.append(f)
        masks.append(np.abs(f - truth[len(dirty) - 1]).max(axis=2) > 2 / 255)
    return dirty, masks, masks


def score(out, dirty, truth, masks, regions, object_masks):
    hit = total = right = changed_all = object_changed = object_total = 0
    outside, inside_before, inside_after = [], [], []
    for k in INNER:
        changed = np.abs(out[k] - dirty[k]).max(axis=2) > 2 / 255
        near = cv2.dilate(regions[k].astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
        hit += int((masks[k] & (np.abs(out[k] - truth[k]).max(axis=2) < 0.08)).sum())
        total += int(masks[k].sum())
        changed_all += int(changed.sum())
        right += int((changed & near).sum())
        outside.append(psnr_y(out[k], dirty[k], ~near))
        inside_before.append(psnr_y(dirty[k], truth[k], masks[k]))
        inside_after.append(psnr_y(out[k], truth[k], masks[k]))
        object_changed += int((changed & object_masks[k]).sum())
        object_total += int(object_masks[k].sum())
    return [hit / total, right / max(changed_all, 1), mean(inside_before), mean(inside_after), mean(outside),
            100 * object_changed / object_total]


def main() -> None:
    if not need_shared("corpus photos and old-film clips"):
        return
    has_vs = vapoursynth_available()
    truth = make_truth()
    object_masks = [moving_object_mask(k, truth[0].shape) for k in range(FRAMES)]
    cases = {"dust": add_dust(truth), "scratches": add_scratches(truth)}
    runs = [("dust", Dust, DustParams(method="mc-median")), ("dust", Dust, DustParams(method="median")),
            ("scratches", Scratches, ScratchesParams(method="columns")),
            ("scratches", Scratches, ScratchesParams(method="descratch"))]
    film = []
    if (OLD_FILM / "oldfilm-002.mkv").exists():
        film, film_fps = read_old_film("oldfilm-002.mkv", 24)
    rows = []
    for case, (dirty, masks, regions) in cases.items():
        rows.append([f"{case}: nothing (baseline)", *score(dirty, dirty, truth, masks, regions, object_masks), "-", "-"])
    for case, cls, params in runs:
        if params.method in ("mc-median", "descratch") and not has_vs:
            continue
        dirty, masks, regions = cases[case]
        out, fps = run_stage(cls, params, dirty)
        film_changed = "-"
        if film:
            film_out, _ = run_stage(cls, params, film, fps=film_fps)
            film_changed = 100 * mean(float(np.mean(np.abs(o - i).max(axis=2) > 2 / 255))
                                      for o, i in zip(film_out[1:-1], film[1:-1]))
        rows.append([f"{case}: {params.method}", *score(out, dirty, truth, masks, regions, object_masks),
                     film_changed, fps])
    print_table(
        "Dust and scratches: 720×576 moving truth with synthetic defects; oldfilm-002 (first 24 frames)",
        ["method", "recall", "precision", "PSNR defects before", "PSNR defects after", "PSNR outside",
         "% of moving object changed", "film % pixels changed", "fps (steady)"],
        rows,
        note=("PSNR outside: output vs input away from the defects (99 = untouched). "
              "The moving object (a dark disc at 9 px/frame) must not change."
              + ("" if has_vs else "\nVapourSynth not installed: mc-median/descratch rows skipped.")),
    )


if __name__ == "__main__":
    main()
