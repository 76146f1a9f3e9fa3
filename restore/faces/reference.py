"""Reference portraits of the person being restored, as an identity anchor at inference.

A reference is a folder of portraits with a ``MANIFEST.tsv`` in the format face corpora
use (``restore.training.face_data.read_face_manifest``: the project's corpus manifest or
the plain ``file person source license`` TSV; a sub-folder of a corpus uses the corpus's
manifest). Every portrait must name its source and a licence we can honour, and a
portrait whose bytes differ from the sha256 its manifest gives is refused: the
reference is recorded in the provenance, so it must be exactly what the record says.

Each portrait's largest face is detected (YuNet) and embedded (SFace); the reference
identity is the normalised mean of those embeddings. The faces stage uses it to report
each track's likeness to the person and to refuse a restoration that moves a face
further from the person than the face it received.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from restore.digest import sha256_file
from restore.errors import UserError


@dataclass(frozen=True)
class ReferencePortrait:
    file: str          # as the manifest names it
    path: Path
    sha256: str
    person: str
    license: str
    source: str


def read_reference(folder: str | Path) -> tuple[list[ReferencePortrait], Path]:
    """The portraits of a reference folder and its manifest; any problem is a one-line ``UserError``."""
    from restore.training.corpus import MANIFEST_NAME, normalise_license
    from restore.training.face_data import read_face_manifest

    directory = Path(folder).expanduser()
    if not directory.is_dir():
        raise UserError(f"reference {folder} is not a folder")
    if not any((d / MANIFEST_NAME).is_file() for d in (directory.resolve(), *directory.resolve().parents[:2])):
        raise UserError(f"reference {folder} has no {MANIFEST_NAME}: every portrait needs a source and a licence")
    try:
        images, manifest = read_face_manifest(directory)
    except UserError as exc:
        # the reader is the trainer's; its wording talks about training
        raise UserError(str(exc).replace("refusing to train on it", "refusing to use it as a reference")) from None
    portraits = []
    for im in images:
        licence = normalise_license(im.license or "")
        if not licence or not (im.source or "").strip():
            raise UserError(f"{manifest}: {im.rel} has no usable source/licence; refusing to use it as a reference")
        if not im.path.is_file():
            raise UserError(f"{manifest}: {im.rel} is listed but missing")
        digest = sha256_file(im.path)
        if im.sha256 and im.sha256.lower() != digest:
            raise UserError(f"{manifest}: {im.rel} does not match its sha256 (changed since it was listed)")
        portraits.append(ReferencePortrait(im.rel, im.path, digest, im.person, licence, im.source.strip()))
    return portraits, manifest


class Reference:
    """The reference person's SFace identity, and what went into it (for the record)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder).expanduser()
        self.portraits, self.manifest = read_reference(self.folder)
        self.embedding: np.ndarray | None = None
        self.found: dict[str, bool] = {}
        self.consistency: float | None = None

    def load(self, detector, embedder) -> None:
        """Detect and embed every portrait (once); refuse a reference where no face is found."""
        if self.embedding is not None:
            return
        feats = []
        for p in self.portraits:
            bgr = cv2.imread(str(p.path), cv2.IMREAD_COLOR)
            if bgr is None:
                raise UserError(f"reference portrait {p.path} cannot be read as an image")
            rgb = np.ascontiguousarray(bgr[:, :, ::-1])
            faces = detector.detect(rgb)
            self.found[p.file] = bool(faces)
            if faces:
                feats.append(embedder.embed(rgb, faces[0].box, faces[0].landmarks))
        if not feats:
            raise UserError(f"reference {self.folder}: no face found in any of its {len(self.portraits)} portraits")
        stack = np.stack(feats)
        mean = stack.mean(axis=0)
        self.embedding = mean / max(float(np.linalg.norm(mean)), 1e-12)
        # how alike the portraits are to their own mean: a low value means a mixed or poor reference
        self.consistency = float((stack @ self.embedding).mean())

    def describe(self) -> dict:
        """What the provenance record keeps: every file with its sha256, source and licence."""
        licences: dict[str, int] = {}
        for p in self.portraits:
            licences[p.license] = licences.get(p.license, 0) + 1
        return {
            "folder": str(self.folder.resolve()),
            "manifest": str(self.manifest),
            "manifest_sha256": sha256_file(self.manifest),
            "people": sorted({p.person for p in self.portraits}),
            "licences": licences,
            "files": [{"file": p.file, "sha256": p.sha256, "person": p.person, "license": p.license,
                       "source": p.source, "face_found": self.found.get(p.file)} for p in self.portraits],
            "faces_embedded": sum(self.found.values()) if self.found else None,
            "consistency": round(self.consistency, 4) if self.consistency is not None else None,
            "identity_model": "sface-2021dec-int8",
        }
