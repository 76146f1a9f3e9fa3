"""Would an invisible watermark survive our own access-copy encode? (issue 5, item 6)

A zero-bit spread-spectrum mark, the simplest kind that can survive compression:
a keyed ±1 pattern on a 16×16-pixel block grid added to luma at amplitude A (8-bit
levels), the same pattern in every frame. Blind detection: block means of the
received luma, minus their 3×3 neighbourhood mean (removes the picture's own low
frequencies), correlated with the pattern; z is that correlation in standard
deviations, the median over frames. Baselines, same run: the unmarked clip through
the same encode, and the largest |z| that any of 200 wrong keys reaches on the marked
clip (what chance alone produces on this content). Encodes are what restore writes for an access copy
(libx264 medium, CRF 18, yuv420p), then a web re-share (half size, CRF 28).
Clip: ../shared/media/old-film/oldfilm-003.mkv (home movie), first 24 frames.
The cost column is the PSNR of the marked frames against the unmarked ones before
any encode: what the mark itself takes from fidelity.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

from benchmarks._archival import OLD_FILM, print_table
from restore import metrics

BLOCK = 16
FRAMES = 24
AMPLITUDES = [0.0, 0.5, 1.0, 2.0, 4.0]
KEY = 20261124
ENCODES = {
    "lossless (no encode)": None,
    "H.264 CRF 18 (restore access copy)": ["-c:v", "libx264", "-preset", "medium", "-crf", "18"],
    "half size + H.264 CRF 28 (re-share)": ["-vf", "scale=iw/2:ih/2", "-c:v", "libx264", "-preset", "medium",
                                            "-crf", "28"],
}


def read_yuv(path: Path, count: int) -> tuple[list[np.ndarray], int, int]:
    probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                            "stream=width,height", "-of", "csv=p=0", str(path)], capture_output=True, text=True,
                           check=True).stdout.strip().split(",")
    width, height = int(probe[0]), int(probe[1])
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-frames:v", str(count), "-f", "rawvideo",
                          "-pix_fmt", "yuv420p", "-"], capture_output=True, check=True).stdout
    size = width * height * 3 // 2
    return [np.frombuffer(raw[i:i + size], np.uint8).copy() for i in range(0, len(raw), size)], width, height


def pattern(width: int, height: int, key: int = KEY) -> np.ndarray:
    rng = np.random.default_rng(key)
    return rng.choice([-1.0, 1.0], size=(height // BLOCK, width // BLOCK))


def mark(frame: np.ndarray, width: int, height: int, amplitude: float, grid: np.ndarray) -> np.ndarray:
    out = frame.copy()
    y = out[:width * height].reshape(height, width).astype(np.float32)
    full = np.kron(grid, np.ones((BLOCK, BLOCK), np.float32))
    y[:full.shape[0], :full.shape[1]] += amplitude * full
    out[:width * height] = np.clip(np.rint(y), 0, 255).astype(np.uint8).ravel()
    return out


def encode_and_decode(frames: list[np.ndarray], width: int, height: int, args: list[str] | None) -> list[np.ndarray]:
    """Through ffmpeg and back to full-size luma planes (a re-share is scaled back up to detect)."""
    lumas = [f[:width * height].reshape(height, width) for f in frames]
    if args is None:
        return lumas
    src = ["-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{width}x{height}", "-r", "24", "-i", "-"]
    encoded = subprocess.run(["ffmpeg", "-v", "error", *src, *args, "-pix_fmt", "yuv420p", "-f", "matroska", "-"],
                             input=b"".join(f.tobytes() for f in frames), capture_output=True, check=True).stdout
    # yuv420p, not gray: swscale would stretch limited-range luma to full range on the way to gray
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", "-", "-vf", f"scale={width}:{height}", "-f", "rawvideo",
                          "-pix_fmt", "yuv420p", "-"], input=encoded, capture_output=True, check=True).stdout
    size = width * height * 3 // 2
    return [np.frombuffer(raw[i:i + width * height], np.uint8).reshape(height, width)
            for i in range(0, len(raw), size)]


def residual(luma: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Block means minus their 3×3 neighbourhood mean: the picture's own low frequencies removed."""
    rows, cols = shape
    means = luma[:rows * BLOCK, :cols * BLOCK].astype(np.float64).reshape(rows, BLOCK, cols, BLOCK).mean(axis=(1, 3))
    padded = np.pad(means, 1, mode="edge")
    local = sum(padded[i:i + rows, j:j + cols] for i in range(3) for j in range(3)) / 9.0
    out = means - local
    return out - out.mean()


def z_score(res: np.ndarray, grid: np.ndarray) -> float:
    norm = np.sqrt((res ** 2).sum())
    return float((res * grid).sum() / norm) if norm else 0.0


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """restore.metrics.psnr of the stored 8-bit Y samples: limited-range BT.601 Y already, the Y that
    restore.metrics.psnr_y computes from RGB."""
    return metrics.psnr(a, b, peak=255.0)


def main() -> None:
    clip = OLD_FILM / "oldfilm-003.mkv"
    if not clip.is_file():
        print(f"bench_watermark: skipped: {clip} not found")
        return
    frames, width, height = read_yuv(clip, FRAMES)
    grid = pattern(width, height)
    originals = [f[:width * height].reshape(height, width) for f in frames]
    encode_cost = {name: np.mean([psnr(d, o) for d, o in
                                  zip(encode_and_decode(frames, width, height, args), originals, strict=True)])
                   for name, args in ENCODES.items() if args is not None}
    wrong_keys = [pattern(width, height, KEY + 1 + k) for k in range(200)]
    rows = []
    for amplitude in AMPLITUDES:
        marked = [mark(f, width, height, amplitude, grid) for f in frames]
        cost = np.mean([psnr(m[:width * height], f[:width * height]) for m, f in zip(marked, frames)])
        row = [f"{amplitude:g}" + (" (unmarked)" if amplitude == 0 else ""),
               "—" if amplitude == 0 else f"{cost:.1f}"]
        for args in ENCODES.values():
            residuals = [residual(luma, grid.shape) for luma in encode_and_decode(marked, width, height, args)]
            true_z = np.median([z_score(r, grid) for r in residuals])
            chance = max(abs(np.median([z_score(r, g) for r in residuals])) for g in wrong_keys)
            row.append(f"{true_z:.1f} (chance ≤ {chance:.1f})")
        rows.append(row)
    print_table(f"Watermark survival, oldfilm-003 ({width}x{height}, {len(frames)} frames): median per-frame z "
                "with the key (largest |z| of 200 wrong keys)",
                ["amplitude (8-bit levels)", "cost PSNR dB", *ENCODES], rows,
                note="a mark at amplitude A costs ≈ 20·log10(255/A) dB before any encode; the encodes themselves cost "
                     + ", ".join(f"{name} {value:.1f} dB" for name, value in encode_cost.items())
                     + " (luma PSNR of the unmarked clip)")


if __name__ == "__main__":
    main()
