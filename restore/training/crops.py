"""A small pack of high-resolution texture crops for fast GPU training.

Decoding a 5120×2880 wallpaper to cut one 320 px patch wastes most of a data loader's time. This
cuts, once and deterministically, a few patches per training image and writes them as JPEG q95
4:4:4 (little enough loss for an HR target, a fraction of PNG's size) with an index that keeps
every crop's provenance: source image, its sha256 and licence, and the box.

The crops are taken after downscaling the picture's long side to at most ``max_side`` (1600 px): a camera's
full resolution is softer per pixel than the downscaled picture, and the archival frames we restore
are far smaller. Patches are chosen by texture, the mean absolute luma gradient, so skies, bokeh and
studio backdrops (where a super-resolution model learns nothing) are not taken; boxes do not overlap.
Held-out images are never cropped.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from restore.training.corpus import Corpus, Entry, _fingerprint, NEAR_DUPLICATE_HAMMING, NEAR_DUPLICATE_RESIDUAL

INDEX_NAME = "index.tsv"
INDEX_COLUMNS = ["crop", "source", "sha256", "license", "author", "box", "scale", "texture", "split"]
CANDIDATE_STRIDE = 0.5     # candidate boxes every half crop: enough choice, few overlaps to reject
MIN_TEXTURE = 2.0          # mean |gradient| (8-bit luma) below this is sky or blur: never taken


@dataclass(frozen=True)
class Crop:
    box: tuple[int, int, int, int]   # x0, y0, x1, y1 in the downscaled image
    texture: float


def _downscaled(entry: Entry, max_side: int) -> tuple[np.ndarray, float]:
    """The training view of the entry as uint8 RGB, and the scale: the *picture's* long side brought to
    at most ``max_side``, then the entry's region cut from it.

    One scale per picture, not per region: the regions of one photograph (a venue's training and
    held-out parts) then hold the same detail per pixel, so a model adapted on one is measured on the
    other at the scale it learned (scaled each to ``max_side``, a 2496-px-wide training region and a
    2160-px-tall held-out one of the same photograph came out 16 % apart)."""
    from PIL import Image

    with Image.open(entry.path) as img:
        img = img.convert("RGB")
        scale = min(1.0, max_side / max(img.size))
        if entry.region:
            r = entry.region
            img = img.crop((r.x0, r.y0, r.x1, r.y1))
        if scale < 1.0:
            size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
            img = img.resize(size, Image.LANCZOS)
        return np.asarray(img), scale


def choose_crops(image: np.ndarray, size: int, count: int, seed: int) -> list[Crop]:
    """Up to ``count`` non-overlapping ``size``-px boxes with the most texture.

    Candidates lie on a grid of half-crop steps, offset by a seed-derived shift so that another
    seed gives other boxes; ties are broken by grid order, so the result is deterministic.
    """
    height, width = image.shape[:2]
    if min(height, width) < size:
        return []
    luma = image[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    gradient = np.zeros_like(luma)
    gradient[:, :-1] += np.abs(np.diff(luma, axis=1))
    gradient[:-1, :] += np.abs(np.diff(luma, axis=0))
    integral = np.pad(gradient.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    step = max(1, int(size * CANDIDATE_STRIDE))
    rng = np.random.default_rng(seed)
    ox = int(rng.integers(0, min(step, width - size + 1)))
    oy = int(rng.integers(0, min(step, height - size + 1)))
    candidates = []
    for y in range(oy, height - size + 1, step):
        for x in range(ox, width - size + 1, step):
            total = integral[y + size, x + size] - integral[y, x + size] - integral[y + size, x] + integral[y, x]
            candidates.append((float(total) / (size * size), x, y))
    candidates.sort(key=lambda c: -c[0])  # stable: equal textures keep grid order
    chosen: list[Crop] = []
    for texture, x, y in candidates:
        if len(chosen) == count or texture < MIN_TEXTURE:
            break
        box = (x, y, x + size, y + size)
        if all(box[2] <= c.box[0] or c.box[2] <= box[0] or box[3] <= c.box[1] or c.box[3] <= box[1]
               for c in chosen):
            chosen.append(Crop(box, texture))
    return chosen


def export_crops(corpus_manifests: list[Path], out_dir: Path, size: int = 320, per_image: int = 3,
                 seed: int = 0, max_side: int = 1600, include_heldout: bool = False,
                 heldout_per_image: int = 1) -> Path:
    """Write texture crops of every training image of the corpora, and ``index.tsv``; returns its path.

    An image whose picture was already cropped from an earlier manifest (same sha256 and region, or
    a near duplicate by perceptual hash, e.g. ``general`` holds downscaled copies of ``debian``
    files) is skipped, so passing overlapping corpora does not weight a picture twice. With
    ``include_heldout``, held-out images are cropped too (``heldout_per_image`` each, marked
    ``heldout`` in the index, for validation only) — after every training image, so that a held-out
    picture that is a near duplicate of a trained one is left out rather than measured on.
    """
    from PIL import Image

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows, seen, seen_prints = [], set(), []
    for split in ("train", "heldout") if include_heldout else ("train",):
        count = per_image if split == "train" else heldout_per_image
        for manifest in corpus_manifests:
            corpus = Corpus.load(manifest)
            name = Path(corpus.manifest).parent.name
            for entry in corpus.select(split=split):
                key = (entry.sha256, str(entry.region))      # one file can hold a train and a held-out region
                if key in seen:
                    continue
                seen.add(key)
                image, scale = _downscaled(entry, max_side)
                bits, thumb = _fingerprint(image.astype(np.float32) / 255.0)
                if any(np.unpackbits(bits ^ b).sum() <= NEAR_DUPLICATE_HAMMING
                       and float(np.abs(thumb - t).mean()) < NEAR_DUPLICATE_RESIDUAL for b, t in seen_prints):
                    continue
                seen_prints.append((bits, thumb))
                image_seed = seed + int(entry.sha256[:8], 16)  # per image, independent of corpus order
                for crop in choose_crops(image, size, count, image_seed):
                    x0, y0, x1, y1 = crop.box
                    stem = hashlib.sha256(f"{entry.sha256}:{entry.region}:{crop.box}:{scale}".encode()).hexdigest()[:16]
                    file_name = f"{name}-{stem}.jpg"
                    Image.fromarray(image[y0:y1, x0:x1]).save(out_dir / file_name, "JPEG", quality=95,
                                                              subsampling=0)
                    rows.append([file_name, f"{name}/{entry.rel}", entry.sha256, entry.license, entry.author,
                                 f"{x0},{y0},{x1},{y1}", f"{scale:.6f}", f"{crop.texture:.2f}", split])
    return write_index(out_dir, rows)


def write_index(out_dir: Path, rows: list[list[str]]) -> Path:
    """The pack's ``index.tsv``: one row of INDEX_COLUMNS per crop."""
    index = Path(out_dir) / INDEX_NAME
    lines = ["\t".join(INDEX_COLUMNS)] + ["\t".join(c.replace("\t", " ") for c in row) for row in rows]
    index.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return index


def pack_size(out_dir: Path) -> int:
    return sum(f.stat().st_size for f in Path(out_dir).iterdir() if f.is_file())
