"""The crop packs a training machine is sent: HR texture crops and aligned faces.

A GPU machine has neither the corpora (the images are not in the repository) nor the face
detector; what it needs fits in about a hundred MB:

* ``sr/``: 288-px texture crops of every training image of the general corpora (``debian``,
  ``general``, the venue's training region), two per image, and one per held-out image (marked
  ``heldout``: validation only) — restore.training.crops;
* ``portraits/``: one 288-px crop around the face of every training portrait of the face corpus
  large enough for it (studio portraits, at their own resolution), so that the video SR model
  sees faces among its textures (``crops: [sr, portraits]``) — speech footage is mostly faces;
* ``portraits-224/``: the same for the training portraits too small for 288 px and large enough
  for 224 (the official portraits, 225×275, whose faces are ~118 px wide: the size a face has in an
  SD frame brought up ×2), one 224-px crop each, never resampled;
* ``faces/``: every portrait of the face corpus aligned to the 128-px template (JPEG q95) with its
  person, split and licence — restore.training.face_data.

Both indexes keep each crop's source image hash and licence; the trainers check them against
the committed manifests before they train. ``make packs`` writes them under ``runs/packs``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SR_CORPORA = ("debian", "general", "venue")
SR_CROP = 288          # HR side: 128-px training patches with room for motion and zoom
SMALL_PORTRAIT_CROP = 224   # the smallest crop that still holds a 128-px patch with a moving camera
SR_PER_IMAGE = 2


def folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def build_sr_pack(out: Path, corpora: tuple[str, ...] = SR_CORPORA) -> Path:
    from restore.training.crops import export_crops

    present = [REPO / "corpora" / name for name in corpora if (REPO / "corpora" / name / "MANIFEST.tsv").is_file()]
    return export_crops(present, out, size=SR_CROP, per_image=SR_PER_IMAGE, include_heldout=True)


def build_portrait_pack(out: Path, corpus: Path = REPO / "corpora" / "faces", size: int = SR_CROP,
                        smaller_than: int | None = None) -> Path:
    """``size``-px crops of the training portraits whose shorter side holds one (and, with ``smaller_than``,
    is below that: those a larger pack leaves out), centred where a portrait's face is (the middle, 42 %
    down; the corpus is frontal head-and-shoulders pictures), never resampled. Held-out people are not
    cropped: the face benches measure on them."""
    import numpy as np
    from PIL import Image

    from restore.training.crops import write_index
    from restore.training.corpus import Corpus

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for entry in Corpus.load(corpus).select(split="train"):
        if min(entry.width, entry.height) < size or (smaller_than and min(entry.width, entry.height) >= smaller_than):
            continue
        image = np.asarray(Image.open(entry.path).convert("RGB"))
        h, w = image.shape[:2]
        x0 = (w - size) // 2
        y0 = min(max(0, int(round(0.42 * h)) - size // 2), h - size)
        name = f"portrait-{entry.sha256[:16]}.jpg"
        Image.fromarray(image[y0:y0 + size, x0:x0 + size]).save(out / name, "JPEG", quality=95, subsampling=0)
        rows.append([name, f"faces/{entry.rel}", entry.sha256, entry.license, entry.author,
                     f"{x0},{y0},{x0 + size},{y0 + size}", "1.000000", "", "train"])
    return write_index(out, rows)


def build_face_pack(out: Path, corpus: Path = REPO / "corpora" / "faces") -> Path:
    from restore.training.face_data import export_face_pack

    cache = Path("~/.cache/restore/faces").expanduser()
    return export_face_pack(corpus, out, 128, cache, quality=95)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the SR and face crop packs for a training machine.")
    parser.add_argument("out", type=Path, nargs="?", default=REPO / "runs" / "packs")
    args = parser.parse_args(argv)
    sr = build_sr_pack(args.out / "sr")
    portraits = build_portrait_pack(args.out / "portraits")
    small = build_portrait_pack(args.out / "portraits-224", size=SMALL_PORTRAIT_CROP, smaller_than=SR_CROP)
    faces = build_face_pack(args.out / "faces")
    for index in (sr, portraits, small, faces):
        rows = sum(1 for line in index.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")) - 1
        print(f"{index}: {rows} crops, {folder_size(index.parent) / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
