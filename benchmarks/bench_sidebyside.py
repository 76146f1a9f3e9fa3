"""Side-by-side pictures for the eye: bicubic against the presets' multi-frame super-resolution.

1. Real old film (../shared/media/old-film, no ground truth): the middle frame of each clip,
   ×2 by bicubic and by ``restore-vsr-x2-v5`` through the ``superres`` stage with its five-frame
   window, written as PNGs into ``benchmarks/results/sidebyside/`` (not committed: the clips'
   copyright is unknown).
2. The bundled sample (ours, made from public-domain material): frame 50 of the ``default``
   preset's output against the deinterlaced source upscaled by bicubic, two crops (the speaker,
   a building), written to ``docs/demo-before-after.jpg`` — the picture in the README. Needs
   ``make demo`` to have written ``out/speech-pal-sample.restored.mkv``.

    python -m benchmarks sidebyside
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import numpy as np

from benchmarks._archival import OLD_FILM, read_old_film, run_stage

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "sidebyside"
DEMO_OUT = REPO / "out" / "speech-pal-sample.restored.mkv"
SAMPLE = REPO / "samples" / "speech-pal-sample.mkv"
CROPS = (("speaker", 450, 850, 560, 1000), ("building", 500, 900, 0, 440))   # name, y0, y1, x0, x1 at 1536×1152


def _label(image: np.ndarray, text: str) -> np.ndarray:
    out = image.copy()
    cv2.rectangle(out, (0, 0), (10 + 11 * len(text), 26), (0, 0, 0), -1)
    cv2.putText(out, text, (5, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def _u8(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor((np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8), cv2.COLOR_RGB2BGR)


def old_film() -> None:
    from restore.stages.superres import SuperResolution, SuperResParams

    if not OLD_FILM.is_dir():
        print("../shared/media/old-film is absent: old-film pictures skipped")
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    for clip in sorted(OLD_FILM.glob("*.mkv")):
        frames, fps = read_old_film(clip.name, 12)
        middle = len(frames) // 2
        window = frames[middle - 2:middle + 3]
        out, _ = run_stage(SuperResolution, SuperResParams(weights="restore-vsr-x2-v5", scale=2, square_pixels=False),
                           window, fps=fps)
        h, w = window[2].shape[:2]
        bicubic = cv2.resize(window[2], (2 * w, 2 * h), interpolation=cv2.INTER_CUBIC)
        picture = np.concatenate([_label(_u8(bicubic), "bicubic"), _label(_u8(out[2]), "restore-vsr-x2-v5")], axis=1)
        target = RESULTS / f"{clip.stem}-frame{middle}.png"
        cv2.imwrite(str(target), picture)
        print(f"wrote {target}")


def _frame(path: Path, index: int, vf: str = "") -> np.ndarray:
    chain = f"select=eq(n\\,{index})" + (f",{vf}" if vf else "")
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-vf", chain, "-frames:v", "1", "-f", "rawvideo",
                          "-pix_fmt", "bgr24", "pipe:1"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(1152, 1536, 3)


def demo_crop() -> None:
    if not DEMO_OUT.is_file():
        print(f"{DEMO_OUT} is absent (run `make demo`): the README's picture is not redrawn")
        return
    source = _frame(SAMPLE, 50, "bwdif=mode=send_frame,scale=1536:1152:flags=bicubic")
    restored = _frame(DEMO_OUT, 50)
    rows = []
    for name, y0, y1, x0, x1 in CROPS:
        rows.append(np.concatenate([_label(source[y0:y1, x0:x1], f"source, bwdif + bicubic ({name})"),
                                    _label(restored[y0:y1, x0:x1], "restore default")], axis=1))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows]
    target = REPO / "docs" / "demo-before-after.jpg"
    target.parent.mkdir(exist_ok=True)
    cv2.imwrite(str(target), np.concatenate(rows, axis=0), [cv2.IMWRITE_JPEG_QUALITY, 92])
    print(f"wrote {target} ({target.stat().st_size // 1024} KB)")


def main() -> None:
    old_film()
    demo_crop()
