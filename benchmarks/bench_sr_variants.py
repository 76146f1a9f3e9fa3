"""Trained variants of the ×2 model against each other, paired on the same degraded inputs.

1. **Venue adaptation.** ``restore-sr-x2`` (generic) against ``restore-sr-x2-venue`` (fine-tuned
   on the training region of the venue photograph, x < 2496) on every 256² tile of the held-out
   region (x ≥ 2560, never trained on), each tile degraded twice (pal-broadcast, fixed seeds).
   A *control* fine-tune, same recipe and iterations but on the general corpus
   (``pipelines/training/sr-x2-venue-control.yaml``, in runs/), separates what the venue
   pictures taught from what more L1 fine-tuning alone does.
2. **Structure-loss ablation.** ``restore-sr-x2`` (L1 + structure + GAN) against the same schedule
   without the structure term (``pipelines/training/sr-x2-ablation-plain.yaml``, in runs/), on the
   held-out general crops and the venue tiles, plus NIQE on old-film frames.
3. **Candidates.** Trained candidate recipes for the default model (``sr-x2-stronger-gan.yaml``,
   ``sr-x2-wide.yaml``, outputs in runs/; more through ``$RESTORE_SR_CANDIDATES``) against the
   shipped model on every set it is judged on.

Besides PSNR-Y / SSIM-Y / NIQE: GMSD (gradient-magnitude similarity deviation, Xue et al. 2014, a
full-reference perceptual index with no learned weights; lower is better) and the HF ratio, the
RMS of the output's finest band (difference of Gaussians) over the truth's (1 = as much fine
detail as the truth; below 1 blurred, above 1 invented or ringing; the median over images, as
flat tiles make the ratio of small numbers). Differences are paired per image, with a 95 %
bootstrap interval and the share of images on which the first model wins.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import torch

from benchmarks._archival import SHARED, paired, print_table
from benchmarks.bench_sr_quality import SCALE, corner_pairs, heldout_general, network, old_film_frames, synthetic_pairs
from restore.training.evaluate import niqe, psnr_y, quantise, ssim_y

REPO = Path(__file__).resolve().parents[1]
RUNS = REPO / "runs"
TILE = 256
VENUE_SEEDS = 2


def _luma(rgb: np.ndarray) -> np.ndarray:
    rgb = quantise(rgb).astype(np.float64) * 255.0
    return 16.0 + 65.481 * rgb[..., 0] / 255 + 128.553 * rgb[..., 1] / 255 + 24.966 * rgb[..., 2] / 255


def gmsd(output: np.ndarray, target: np.ndarray) -> float:
    """GMSD on luma, as in the paper: 2×2 average, Prewitt gradients, c = 170 for 8-bit range."""
    kernel = np.array([[1, 0, -1]] * 3, np.float64) / 3.0
    mags = []
    for image in (_luma(output), _luma(target)):
        small = cv2.resize(image, (image.shape[1] // 2, image.shape[0] // 2), interpolation=cv2.INTER_AREA)
        gx, gy = cv2.filter2D(small, -1, kernel), cv2.filter2D(small, -1, kernel.T)
        mags.append(np.sqrt(gx ** 2 + gy ** 2))
    a, b = mags
    gms = (2 * a * b + 170.0) / (a ** 2 + b ** 2 + 170.0)
    return float(gms[2:-2, 2:-2].std())


def _fine_band(luma: np.ndarray) -> np.ndarray:
    """The band an ×2 model is responsible for (a difference of Gaussians, σ 0.7 and 1.4 px)."""
    return cv2.GaussianBlur(luma, (0, 0), 0.7) - cv2.GaussianBlur(luma, (0, 0), 1.4)


def hf_ratio(output: np.ndarray, target: np.ndarray) -> float:
    bo, bt = _fine_band(_luma(output))[8:-8, 8:-8], _fine_band(_luma(target))[8:-8, 8:-8]
    return float(np.sqrt((bo ** 2).mean() / max((bt ** 2).mean(), 1e-9)))


def measure(upscale, pairs) -> np.ndarray:
    """Per image: PSNR-Y, SSIM-Y, NIQE, GMSD, HF ratio."""
    rows = []
    for lr, hr in pairs:
        sr = upscale(lr)
        rows.append([psnr_y(sr, hr, SCALE), ssim_y(sr, hr, SCALE), niqe(sr, SCALE), gmsd(sr, hr), hf_ratio(sr, hr)])
    return np.array(rows)


def venue_heldout_tiles(size: int = TILE) -> list[np.ndarray]:
    """Every non-overlapping size² tile of the held-out region (x ≥ 2560 of the venue photograph)."""
    from restore.training.corpus import Corpus

    region = Corpus.load(REPO / "corpora" / "venue").select(split="heldout")[0].load_rgb()
    h, w = region.shape[:2]
    return [np.ascontiguousarray(region[y:y + size, x:x + size])
            for y in range(0, h - size + 1, size) for x in range(0, w - size + 1, size)]


def venue_pairs() -> list[tuple[np.ndarray, np.ndarray]]:
    """Each held-out tile degraded VENUE_SEEDS times (pal-broadcast, fixed seeds)."""
    from restore.training.degrade import DegradationModel

    model = DegradationModel(preset="pal-broadcast")
    tiles = venue_heldout_tiles()
    return [(model.degrade(hr, np.random.default_rng([4242, seed, i]), SCALE), hr)
            for seed in range(VENUE_SEEDS) for i, hr in enumerate(tiles)]


def _load(name_or_path):
    from restore.models.registry import load_model

    model = load_model(name_or_path)
    return network(model.module.to(memory_format=torch.channels_last), model.scale)


COLUMNS = ["model", "PSNR-Y dB", "SSIM-Y", "NIQE", "GMSD", "HF ratio (median)"]


def _rows(results: dict[str, np.ndarray]) -> list[list]:
    return [[name, *values[:, :4].mean(axis=0), float(np.median(values[:, 4]))] for name, values in results.items()]


def _by_texture(results: dict[str, np.ndarray], pairs, pairs_of: list[tuple[str, str]]) -> list[list]:
    """ΔPSNR-Y per quartile of the truth's texture (mean |luma gradient|): where a gain comes from."""
    texture = np.array([np.abs(np.diff(_luma(hr), axis=1)).mean() for _, hr in pairs])
    quartiles = np.array_split(np.argsort(texture), 4)
    rows = []
    for a, b in pairs_of:
        diff = results[a][:, 0] - results[b][:, 0]
        rows.append([f"{a} − {b}", *[f"{diff[q].mean():+.3f} ({np.mean(diff[q] > 0):.0%})" for q in quartiles]])
    return rows


def _delta_rows(results: dict[str, np.ndarray], reference: str) -> list[list]:
    rows = []
    for name, values in results.items():
        if name == reference or name == "bicubic":
            continue
        d_psnr = paired(values[:, 0], results[reference][:, 0])
        d_ssim = paired(values[:, 1], results[reference][:, 1])
        rows.append([f"{name} − {reference}", f"{d_psnr[0]:+.3f} [{d_psnr[1]:+.3f}, {d_psnr[2]:+.3f}]",
                     f"{d_psnr[3]:.0%}", f"{d_ssim[0]:+.4f} [{d_ssim[1]:+.4f}, {d_ssim[2]:+.4f}]"])
    return rows


def bench_venue() -> None:
    venue = REPO / "weights" / "restore-sr-x2-venue.safetensors"
    if not venue.is_file():
        print("venue: weights/restore-sr-x2-venue.safetensors absent (make weights), skipped")
        return
    pairs = venue_pairs()
    models = {"bicubic": None, "restore-sr-x2": "restore-sr-x2", "restore-sr-x2-venue": venue}
    control = RUNS / "venue-control" / "restore-sr-x2-control.safetensors"
    if control.is_file():
        models["control (general, same recipe)"] = control
    from restore.training.evaluate import resize_upscale

    results = {name: measure(resize_upscale(SCALE, cv2.INTER_CUBIC) if src is None else _load(src), pairs)
               for name, src in models.items()}
    print_table(f"Venue adaptation: {len(pairs) // VENUE_SEEDS} held-out tiles ({TILE}²) × {VENUE_SEEDS} degradations",
                COLUMNS, _rows(results))
    print_table("Paired against the generic model (mean, 95 % bootstrap interval, share of images won)",
                ["comparison", "ΔPSNR-Y dB", "wins", "ΔSSIM-Y"], _delta_rows(results, "restore-sr-x2"))
    if control.is_file():
        print_table("Venue fine-tune against the control fine-tune",
                    ["comparison", "ΔPSNR-Y dB", "wins", "ΔSSIM-Y"],
                    _delta_rows({k: v for k, v in results.items() if k != "restore-sr-x2"},
                                "control (general, same recipe)"))
    compared = [("restore-sr-x2-venue", "restore-sr-x2")]
    if control.is_file():
        compared.append(("restore-sr-x2-venue", "control (general, same recipe)"))
    print_table("ΔPSNR-Y by texture of the tile, flattest quarter first (mean, share won)",
                ["comparison", "Q1 flat", "Q2", "Q3", "Q4 detailed"], _by_texture(results, pairs, compared))
    if not control.is_file():
        print("(control fine-tune absent: restore train pipelines/training/sr-x2-venue-control.yaml "
              "--finetune restore-sr-x2)")


def bench_structure_ablation() -> None:
    plain = RUNS / "ablation" / "plain.safetensors"
    if not plain.is_file():
        print("\nstructure ablation: runs/ablation/plain.safetensors absent "
              "(restore train pipelines/training/sr-x2-ablation-plain.yaml), skipped")
        return
    models = {"L1 + structure + GAN (restore-sr-x2)": "restore-sr-x2", "L1 + GAN (ablation-plain)": plain}
    sets = {"general held-out crops": synthetic_pairs(heldout_general()), "venue held-out tiles": venue_pairs()}
    film = old_film_frames()
    for title, pairs in sets.items():
        results = {name: measure(_load(src), pairs) for name, src in models.items()}
        print_table(f"Structure-loss ablation: {title} ({len(pairs)} images)", COLUMNS, _rows(results))
        print_table("Paired: with the structure term minus without", ["comparison", "ΔPSNR-Y dB", "wins", "ΔSSIM-Y"],
                    _delta_rows(results, "L1 + GAN (ablation-plain)"))
        if len(pairs) >= 8:
            print_table("ΔPSNR-Y by texture, flattest quarter first (mean, share won)",
                        ["comparison", "Q1 flat", "Q2", "Q3", "Q4 detailed"],
                        _by_texture(results, pairs, [tuple(models)]))
    rows = []
    for name, src in models.items():
        upscale = _load(src)
        rows.append([name, float(np.mean([niqe(upscale(frame), SCALE) for frame in film]))])
    print_table(f"Structure-loss ablation: NIQE on {len(film)} old-film frames", ["model", "NIQE"], rows)


# Candidate recipes for the default model (committed configs, outputs in runs/ when trained).
CANDIDATES = {
    "stronger GAN (sr-x2-stronger-gan.yaml)": RUNS / "stronger-gan" / "restore-sr-x2-stronger-gan.safetensors",
    "32 features + stronger GAN (sr-x2-wide.yaml)": RUNS / "wide" / "restore-sr-x2-wide.safetensors",
}


def candidates() -> dict[str, Path]:
    """The trained candidates, plus any weights files listed in $RESTORE_SR_CANDIDATES (os.pathsep)."""
    found = {name: path for name, path in CANDIDATES.items() if path.is_file()}
    for entry in filter(None, os.environ.get("RESTORE_SR_CANDIDATES", "").split(os.pathsep)):
        path = Path(entry)
        if not path.is_file():
            raise SystemExit(f"RESTORE_SR_CANDIDATES: {path} is not a file")
        found[path.stem] = path
    return found


def bench_candidates() -> None:
    """Each candidate against the shipped model on every set the default model is judged on."""
    found = candidates()
    if not found:
        print("\ncandidates: none trained (restore train pipelines/training/sr-x2-wide.yaml), skipped")
        return
    general, corners, venue, film = synthetic_pairs(heldout_general()), corner_pairs(), venue_pairs(), old_film_frames()
    texture = np.array([np.abs(np.diff(_luma(hr), axis=1)).mean() for _, hr in venue])
    quartiles = np.array_split(np.argsort(texture), 4)
    rows, reference = [], None
    for name, src in {"restore-sr-x2 (shipped)": "restore-sr-x2", **found}.items():
        upscale = _load(src)
        centre = measure(upscale, general)
        corner_niqe = np.mean([niqe(upscale(lr), SCALE) for lr, _ in corners])
        film_niqe = np.mean([niqe(upscale(frame), SCALE) for frame in film])
        tiles = np.array([psnr_y(upscale(lr), hr, SCALE) for lr, hr in venue])
        reference = tiles if reference is None else reference
        diff = tiles - reference
        rows.append([name, *centre[:, :3].mean(axis=0), corner_niqe, film_niqe,
                     f"{diff.mean():+.3f} ({' '.join(f'{diff[q].mean():+.2f}' for q in quartiles)})",
                     float(np.median(centre[:, 4]))])
    print_table("Candidates for the default model, on the same inputs as the shipped one",
                ["model", "centre PSNR-Y", "SSIM-Y", "centre NIQE", "corner NIQE", "old-film NIQE",
                 "venue ΔPSNR-Y (flat → detailed quarters)", "fine-band ratio"], rows,
                "Centre/corner crops and old film as in bench_sr_quality; venue tiles as above, paired against "
                "the shipped model.")


def main() -> None:
    if not (SHARED / "corpora" / "venue").is_dir():
        print("bench_sr_variants: ../shared is absent, skipped")
        return
    torch.set_num_threads(2)
    bench_venue()
    bench_structure_ablation()
    bench_candidates()


if __name__ == "__main__":
    main()
