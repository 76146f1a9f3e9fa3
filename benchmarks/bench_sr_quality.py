"""×2 super-resolution: quality and speed of our default model against its baselines, in one run.

1. Held-out images of the general corpus (never trained on: split ``heldout`` in its manifest),
   centre crops degraded by the synthetic archival model (``pal-broadcast``, fixed seeds):
   PSNR-Y and SSIM-Y against the clean crop, NIQE of the output (lower is better).
2. Frames of the real old films in ../shared/media/old-film (no ground truth): NIQE only.
3. Seconds per 720×576 frame on this machine with 2 threads (inference_mode, channels-last).
4. NIQE and PSNR-Y on the four corner crops of each held-out image (24 crops), a second and
   larger sample for the no-reference score. (Venue adaptation and the structure-loss ablation
   are in ``bench_sr_variants``.)
5. For both synthetic sets, NIQE paired per crop against bicubic (bootstrap interval, crops won),
   and the number of crops on which NIQE scores bicubic's output better than the clean truth:
   where it does, the metric cannot tell restoration from damage.

Methods: bicubic, Lanczos, ``restore-sr-x2`` and Real-ESRGAN general v3 (×4, area-resized to ×2).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch

from benchmarks._archival import SHARED, paired, print_table, read_old_film
from restore.training.evaluate import niqe, psnr_y, resize_upscale, ssim_y, upscale_with

REPO = Path(__file__).resolve().parents[1]
SCALE = 2
CROP = 768            # HR side of the held-out crops (LR 384×384)
SEED = 4242
OLD_FILM_FRAMES = {"oldfilm-001.mkv": (0, 12), "oldfilm-002.mkv": (0, 40), "oldfilm-003.mkv": (0, 30)}
REALESRGAN = SHARED / "weights" / "realesr-general-x4v3.fp16-ncnn-conversion.pth"

Upscaler = Callable[[np.ndarray], np.ndarray]


def network(module: torch.nn.Module, scale: int) -> Upscaler:
    def run(lr: np.ndarray) -> np.ndarray:
        out = upscale_with(module, lr)
        if scale != SCALE:  # a ×4 model: resize its output to the ×2 grid
            h, w = lr.shape[:2]
            out = cv2.resize(out, (w * SCALE, h * SCALE), interpolation=cv2.INTER_AREA)
        return out

    return run


def methods() -> dict[str, Upscaler]:
    from restore.models.registry import load_model

    found = {"bicubic": resize_upscale(SCALE, cv2.INTER_CUBIC), "lanczos": resize_upscale(SCALE, cv2.INTER_LANCZOS4)}
    ours = load_model("restore-sr-x2")
    found["restore-sr-x2"] = network(ours.module.to(memory_format=torch.channels_last), ours.scale)
    if REALESRGAN.is_file():
        peer = load_model(REALESRGAN)
        found["realesr-general-x4v3 (x4→x2)"] = network(peer.module.to(memory_format=torch.channels_last), peer.scale)
    return found


def centre_crop(image: np.ndarray, size: int) -> np.ndarray:
    h, w = image.shape[:2]
    ch, cw = (min(size, h) // SCALE) * SCALE, (min(size, w) // SCALE) * SCALE
    y, x = (h - ch) // 2, (w - cw) // 2
    return np.ascontiguousarray(image[y:y + ch, x:x + cw])


def synthetic_pairs(images: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    from restore.training.degrade import DegradationModel

    model = DegradationModel(preset="pal-broadcast")
    return [(model.degrade(hr, np.random.default_rng([SEED, i]), SCALE), hr) for i, hr in enumerate(images)]


def score(upscale: Upscaler, pairs) -> np.ndarray:
    """Per image: PSNR-Y, SSIM-Y, NIQE."""
    results = []
    for lr, hr in pairs:
        sr = upscale(lr)
        results.append((psnr_y(sr, hr, SCALE), ssim_y(sr, hr, SCALE), niqe(sr, SCALE)))
    return np.array(results, dtype=np.float64)


def seconds_per_frame(upscale: Upscaler, frame: np.ndarray, repeats: int) -> float:
    upscale(frame)  # warm-up: allocator and oneDNN primitive caches
    start = time.perf_counter()
    for _ in range(repeats):
        upscale(frame)
    return (time.perf_counter() - start) / repeats


def old_film_frames() -> list[np.ndarray]:
    frames = []
    for name, picks in OLD_FILM_FRAMES.items():
        clip, _ = read_old_film(name, max(picks) + 1)
        frames += [clip[i] for i in picks if i < len(clip)]
    return frames


def heldout_general() -> list[np.ndarray]:
    from restore.training.corpus import Corpus

    corpus = Corpus.load(REPO / "corpora" / "general")
    return [centre_crop(entry.load_rgb(), CROP) for entry in corpus.select(split="heldout")]


def corner_crops(size: int = 512) -> list[np.ndarray]:
    """The four corner crops of each held-out image: more sky, blur and flat wall than the centres."""
    from restore.training.corpus import Corpus

    crops = []
    for entry in Corpus.load(REPO / "corpora" / "general").select(split="heldout"):
        image = entry.load_rgb()
        h, w = image.shape[:2]
        crops += [np.ascontiguousarray(image[y:y + size, x:x + size]) for y in (0, h - size) for x in (0, w - size)]
    return crops


def corner_pairs() -> list[tuple[np.ndarray, np.ndarray]]:
    from restore.training.degrade import DegradationModel

    model = DegradationModel(preset="pal-broadcast")
    return [(model.degrade(hr, np.random.default_rng([77, i]), SCALE), hr) for i, hr in enumerate(corner_crops())]


def niqe_against_bicubic(title: str, niqes: dict[str, np.ndarray], truth: np.ndarray) -> None:
    """NIQE paired per crop against bicubic, and how often the metric prefers bicubic to the truth.

    NIQE is a distance to the statistics of pristine photographs, blind to the content: a crop
    where bicubic's upscaled noise scores better than the clean original is one where NIQE
    cannot tell restoration from damage, and a mean over such crops rewards keeping the noise.
    """
    bicubic = niqes["bicubic"]
    rows = []
    for name, values in niqes.items():
        if name == "bicubic":
            continue
        mean, low, high, worse = paired(values, bicubic)
        rows.append([name, float(values.mean()), f"{mean:+.3f} [{low:+.3f}, {high:+.3f}]", f"{1 - worse:.0%}"])
    mean, low, high, worse = paired(truth, bicubic)
    rows.append(["(ground truth: the clean crops)", float(truth.mean()), f"{mean:+.3f} [{low:+.3f}, {high:+.3f}]",
                 f"{1 - worse:.0%}"])
    misranked = int((bicubic < truth).sum())
    print_table(title, ["method", "NIQE", "ΔNIQE vs bicubic (95 % interval)", "crops better than bicubic"], rows,
                f"NIQE ranks bicubic's output above the clean truth on {misranked} of {len(truth)} crops.")


def bench_niqe_corners(found: dict[str, Upscaler]) -> None:
    """NIQE again on 24 other crops: six centre crops cannot separate models 0.01 apart."""
    pairs = corner_pairs()
    rows, niqes = [], {}
    for name, upscale in found.items():
        values = np.array([[niqe(sr, SCALE), psnr_y(sr, hr, SCALE)] for sr, hr in ((upscale(lr), hr) for lr, hr in pairs)])
        niqes[name] = values[:, 0]
        rows.append([name, *values.mean(axis=0)])
    truth = np.array([niqe(hr, SCALE) for _, hr in pairs])
    rows.append(["(ground truth)", float(truth.mean()), ""])
    print_table(f"SR ×2: NIQE on {len(pairs)} corner crops (512² HR, pal-broadcast, seeds 77)",
                ["method", "NIQE", "PSNR-Y dB"], rows,
                "NIQE is no fidelity measure: it rewards texture, true or not; read it beside PSNR-Y and the "
                "ground truth's own score.")
    niqe_against_bicubic("Corner crops: NIQE paired per crop against bicubic (lower is better)", niqes, truth)


def main() -> None:
    if not (SHARED / "corpora" / "general").is_dir():
        print("bench_sr_quality: ../shared is absent, skipped")
        return
    from restore.models.registry import PROJECT_WEIGHTS

    if not (PROJECT_WEIGHTS / "restore-sr-x2.safetensors").is_file():
        print("bench_sr_quality: weights/restore-sr-x2.safetensors absent (run `make weights`), skipped")
        return
    torch.set_num_threads(2)
    pairs = synthetic_pairs(heldout_general())
    film = old_film_frames()
    frame = cv2.resize(film[len(film) // 2], (720, 576), interpolation=cv2.INTER_AREA)
    rows, centre_niqe = [], {}
    for name, upscale in methods().items():
        per_crop = score(upscale, pairs)
        centre_niqe[name] = per_crop[:, 2]
        film_niqe = float(np.mean([niqe(upscale(f), SCALE) for f in film]))
        repeats = 1 if "realesr" in name else 3
        rows.append([name, *per_crop.mean(axis=0), film_niqe, seconds_per_frame(upscale, frame, repeats)])
    truth = np.array([niqe(hr, SCALE) for _, hr in pairs])
    rows.append(["(ground truth: the clean crops)", "", "", float(truth.mean()), "", ""])
    print_table(
        f"SR ×2: {len(pairs)} held-out crops ({CROP}² HR, pal-broadcast degradation) and {len(film)} old-film frames",
        ["method", "PSNR-Y dB", "SSIM-Y", "NIQE", "old-film NIQE", "s / 720×576 frame"], rows,
        "PSNR/SSIM on Y with a 2-px border crop, NIQE (basicsr) lower is better; 2 threads on this machine.")
    niqe_against_bicubic("Centre crops: NIQE paired per crop against bicubic (lower is better)", centre_niqe, truth)
    bench_niqe_corners(methods())


if __name__ == "__main__":
    main()
