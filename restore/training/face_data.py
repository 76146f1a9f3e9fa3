"""Face training data: portraits → aligned template crops → archival degradations.

Every portrait is detected (YuNet) and warped to the five-point FFHQ template, so the
network learns on exactly the crops the ``faces`` stage will hand it. Aligned crops
are cached as one ``.npz`` keyed by the image hashes, crop size and detector hash.

Manifests: the project's corpus format (``restore.training.corpus``) when the folder
has one; otherwise the reference set's own TSV (columns ``file``, ``person``,
``source``, ``license``). Either way an image without a source and a licence is
refused, not guessed at.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from restore.errors import UserError
from restore.faces.align import align_face
from restore.faces.detect import YUNET_FILE, FaceDetector, model_sha256, packaged_model
from restore.training.corpus import MANIFEST_NAME, normalise_license


@dataclass(frozen=True)
class FaceImage:
    path: Path
    rel: str
    sha256: str
    person: str
    license: str
    source: str
    split: str = ""          # "heldout" when the manifest says so


def _read_plain_tsv(manifest: Path, prefix: str) -> list[FaceImage]:
    """The reference corpus's TSV (file, sha256, …, person, source, license)."""
    rows = []
    with open(manifest, newline="", encoding="utf-8") as fh:
        for lineno, row in enumerate(csv.DictReader(fh, delimiter="\t"), start=2):
            rel = row.get("file") or row.get("path") or ""
            if prefix and not rel.startswith(prefix):
                continue
            licence = normalise_license(row.get("license") or "")
            if not licence or not (row.get("source") or "").strip():
                raise UserError(f"{manifest}:{lineno}: {rel} has no usable source/licence; refusing to train on it")
            rows.append(FaceImage(manifest.parent / rel, rel, row.get("sha256", ""),
                                  row.get("person") or Path(rel).stem, licence, row["source"].strip()))
    return rows


def read_face_manifest(directory: Path) -> tuple[list[FaceImage], Path]:
    """Images of a face corpus and the manifest they came from.

    ``directory`` may be a sub-folder of a corpus (one person's portraits): the manifest
    is then the nearest ``MANIFEST.tsv`` above it and only rows under the folder count.
    """
    directory = Path(directory).resolve()
    if not directory.is_dir():
        raise UserError(f"face corpus {directory} is not a folder")
    for folder in (directory, *directory.parents[:2]):
        manifest = folder / MANIFEST_NAME
        if manifest.is_file():
            break
    else:
        raise UserError(f"no {MANIFEST_NAME} in {directory} or its parents: every training image needs a source and licence")
    prefix = "" if folder == directory else directory.relative_to(folder).as_posix() + "/"
    first = manifest.read_text(encoding="utf-8").split("\n", 1)[0]
    if first.startswith("# restore corpus manifest"):
        from restore.training.corpus import Corpus

        corpus = Corpus.load(folder)
        images = [FaceImage(e.path, e.rel, e.sha256, e.subject or Path(e.rel).stem, e.license, e.source, e.split)
                  for e in corpus.select() if e.rel.startswith(prefix)]
    else:
        images = _read_plain_tsv(manifest, prefix)
    if not images:
        raise UserError(f"{manifest} lists no images under {directory}")
    return images, manifest


def _image_key(images: list[FaceImage], size: int) -> str:
    h = hashlib.sha256(f"v1 size={size} det={model_sha256(str(packaged_model(YUNET_FILE)))}".encode())
    for im in images:
        h.update(f"{im.rel}\t{im.sha256}\n".encode())
    return h.hexdigest()[:16]


def aligned_crops(images: list[FaceImage], size: int, cache_dir: Path | None) -> tuple[np.ndarray, list[FaceImage]]:
    """uint8 N×size×size×3 RGB template crops of the largest face of each image.

    Images where no face is found are left out (and so are missing from the result's
    image list).
    """
    cache = None
    if cache_dir is not None:
        cache = Path(cache_dir) / f"faces-aligned-{size}-{_image_key(images, size)}.npz"
        if cache.is_file():
            data = np.load(cache, allow_pickle=False)
            keep = set(json.loads(str(data["kept"])))
            return data["crops"], [im for im in images if im.rel in keep]
    detector = FaceDetector(score_threshold=0.5)
    crops, kept = [], []
    for im in images:
        bgr = cv2.imread(str(im.path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise UserError(f"cannot read training image {im.path}")
        rgb = np.ascontiguousarray(bgr[:, :, ::-1])
        faces = detector.detect(rgb)
        if not faces:
            continue
        crops.append(align_face(rgb, faces[0].landmarks, size).crop)
        kept.append(im)
    stack = np.stack(crops) if crops else np.zeros((0, size, size, 3), np.uint8)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(cache.stem + ".partial.npz")
        np.savez(tmp, crops=stack, kept=json.dumps([im.rel for im in kept]))
        tmp.replace(cache)
    return stack, kept


# --- degradations ------------------------------------------------------------------

def _jitter(images: list[np.ndarray], rng: np.random.Generator, size: int) -> list[np.ndarray]:
    """Same small similarity jitter on every image of a pair: detectors on degraded
    footage miss the template by a few pixels, the network must not mind."""
    angle = rng.uniform(-4, 4)
    scale = rng.uniform(0.95, 1.05)
    shift = rng.uniform(-0.025, 0.025, 2) * size
    matrix = cv2.getRotationMatrix2D((size / 2, size / 2), angle, scale)
    matrix[:, 2] += shift
    return [cv2.warpAffine(im, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
            for im in images]


def degrade_face(target: np.ndarray, rng: np.random.Generator, cfg: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(degraded input, target), both float32 size×size×3 in [0, 1].

    The archival chain, in the order film and tape impose it: optical blur, a small
    face (30–120 px in the frame, so the crop is resampled down), film grain / sensor
    noise, lossy compression at that small size, then back up to the crop size (what
    super-resolution or the aligner's warp does). A third of the pairs are greyscale
    on both sides: black-and-white film must stay black and white.
    """
    cfg = cfg or {}
    size = target.shape[0]
    hq = target.astype(np.float32) / 255.0 if target.dtype == np.uint8 else target.astype(np.float32)
    if rng.random() < 0.5:
        hq = hq[:, ::-1]
    hq = np.ascontiguousarray(hq)
    if rng.random() < cfg.get("grey_p", 0.35):
        grey = hq @ np.array([0.299, 0.587, 0.114], np.float32)
        hq = np.repeat(grey[:, :, None], 3, axis=2)
    hq = _jitter([hq], rng, size)[0]
    lq = hq
    sigma = rng.uniform(*cfg.get("blur_sigma", (0.3, 2.5)))
    lq = cv2.GaussianBlur(lq, (0, 0), sigma)
    small = int(rng.uniform(*cfg.get("small_size", (40, 128))))
    if small < size:
        interp = [cv2.INTER_AREA, cv2.INTER_LINEAR, cv2.INTER_CUBIC][rng.integers(3)]
        lq = cv2.resize(lq, (small, small), interpolation=interp)
    if rng.random() < cfg.get("noise_p", 0.8):
        noise_sigma = rng.uniform(*cfg.get("noise_sigma", (0.005, 0.06)))
        if rng.random() < 0.5:   # luminance grain (film) rather than per-channel sensor noise
            lq = lq + rng.normal(0, noise_sigma, lq.shape[:2] + (1,)).astype(np.float32)
        else:
            lq = lq + rng.normal(0, noise_sigma, lq.shape).astype(np.float32)
    lq = np.clip(lq, 0, 1)
    if rng.random() < cfg.get("jpeg_p", 0.7):
        quality = int(rng.uniform(*cfg.get("jpeg_quality", (15, 85))))
        ok, buf = cv2.imencode(".jpg", (lq * 255 + 0.5).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, quality])
        lq = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED).astype(np.float32) / 255.0
        if lq.ndim == 2:
            lq = np.repeat(lq[:, :, None], 3, axis=2)
    if lq.shape[0] != size:
        lq = cv2.resize(lq, (size, size), interpolation=cv2.INTER_CUBIC)
    if rng.random() < cfg.get("tone_p", 0.3):  # film exposure/contrast drift
        gain, offset = rng.uniform(0.85, 1.15), rng.uniform(-0.05, 0.05)
        lq = lq * gain + offset
    return np.clip(lq, 0, 1).astype(np.float32), np.clip(hq, 0, 1).astype(np.float32)


def batch(crops: np.ndarray, rng: np.random.Generator, count: int, cfg: dict | None = None,
          patch: int | None = None):
    """A training batch as two float32 N×3×H×W arrays (input, target).

    With ``patch`` each pair is cut to a random ``patch``×``patch`` window after the
    whole crop was degraded (so blur and resampling see the real neighbourhood): the
    network is fully convolutional, and a quarter of the pixels per sample buys four
    times the samples on a CPU budget.
    """
    picks = rng.integers(0, len(crops), count)
    pairs = [degrade_face(crops[i], rng, cfg) for i in picks]
    if patch and patch < crops.shape[1]:
        cut = []
        for lq, hq in pairs:
            y, x = rng.integers(0, hq.shape[0] - patch + 1), rng.integers(0, hq.shape[1] - patch + 1)
            cut.append((lq[y:y + patch, x:x + patch], hq[y:y + patch, x:x + patch]))
        pairs = cut
    lq = np.stack([p[0] for p in pairs]).transpose(0, 3, 1, 2)
    hq = np.stack([p[1] for p in pairs]).transpose(0, 3, 1, 2)
    return np.ascontiguousarray(lq), np.ascontiguousarray(hq)


# --- crop packs: aligned faces carried to a training machine ---------------------------------

PACK_COLUMNS = ("crop", "rel", "sha256", "person", "split", "license", "source")


def export_face_pack(corpus_dir: Path, out_dir: Path, size: int = 128, cache_dir: Path | None = None,
                     quality: int = 97) -> Path:
    """Aligned template crops of every portrait found, as JPEG (q97, 4:4:4) plus ``index.tsv``
    with each crop's person, split, licence and source: a few MB that a GPU machine, which has
    neither the corpus nor the face detector, can train on."""
    images, manifest = read_face_manifest(Path(corpus_dir))
    crops, kept = aligned_crops(images, size, cache_dir)
    out_dir = Path(out_dir)
    (out_dir / "faces").mkdir(parents=True, exist_ok=True)
    rows = []
    for i, (crop, image) in enumerate(zip(crops, kept)):
        name = f"faces/{i:05d}.jpg"
        ok = cv2.imwrite(str(out_dir / name), np.ascontiguousarray(crop[:, :, ::-1]),
                         [cv2.IMWRITE_JPEG_QUALITY, quality, cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
                          cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444])
        if not ok:
            raise UserError(f"cannot write {out_dir / name}")
        rows.append([name, image.rel, image.sha256, image.person, image.split or "", image.license, image.source])
    index = out_dir / "index.tsv"
    tmp = index.with_suffix(".partial")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(f"# restore face pack v1: {size}px template crops of {manifest.name} "
                 f"(sha256 {hashlib.sha256(manifest.read_bytes()).hexdigest()})\n")
        fh.write("\t".join(PACK_COLUMNS) + "\n")
        for row in rows:
            fh.write("\t".join(str(cell).replace("\t", " ") for cell in row) + "\n")
    tmp.replace(index)
    return index


def read_face_pack(index: Path) -> tuple[np.ndarray, list[FaceImage]]:
    """uint8 N×S×S×3 RGB crops and their images, from ``export_face_pack``'s index; a row without
    a source and a licence is refused."""
    index = Path(index)
    if not index.is_file():
        raise UserError(f"face pack not found: {index} (make it with export_face_pack / `make packs`)")
    with open(index, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader((line for line in fh if not line.startswith("#")), delimiter="\t"))
    crops, images = [], []
    for lineno, row in enumerate(rows, start=3):
        licence = normalise_license(row.get("license") or "")
        if not licence or not (row.get("source") or "").strip():
            raise UserError(f"{index}:{lineno}: {row.get('rel')} has no usable source/licence; refusing to train on it")
        bgr = cv2.imread(str(index.parent / row["crop"]), cv2.IMREAD_COLOR)
        if bgr is None:
            raise UserError(f"{index}:{lineno}: cannot read {row['crop']}")
        crops.append(np.ascontiguousarray(bgr[:, :, ::-1]))
        images.append(FaceImage(index.parent / row["crop"], row["rel"], row["sha256"], row["person"], licence,
                                row["source"], row.get("split", "")))
    if not crops:
        raise UserError(f"{index}: no crops")
    return np.stack(crops), images
