"""Rebuild the committed manifests from ../shared/corpora/*/MANIFEST.tsv.

The images stay in ../shared (they may not be redistributed with the project); each
manifest here points at them through its ``root:`` line and keeps their sha256.

    python corpora/build.py            # rewrites corpora/{general,venue,faces}/MANIFEST.tsv

Splits, fixed here so that training and evaluation never share a picture:
* general: one image in ten (by sorted file name) is held out;
* venue: the one photograph is cut into disjoint regions, as its SOURCES.md asks
  (train x < 2496, held-out x >= 2560, a 64 px gap);
* faces: held-out by person (one person in ten, by a hash of the person id), so
  evaluation faces belong to people never seen in training.
"""

from __future__ import annotations

import csv
import hashlib
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

from restore.training.corpus import Corpus, Entry, Region, normalise_license  # noqa: E402

SHARED = REPO.parent / "shared" / "corpora"
VENUE_TRAIN = (0, 2496)
VENUE_HELDOUT = (2560, None)


def _shared_rows(name: str) -> list[dict]:
    with open(SHARED / name / "MANIFEST.tsv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))


def _year(author: str) -> str:
    years = set(re.findall(r"\((\d{4})\)", author))
    return years.pop() if len(years) == 1 else ""


def _entry(corpus: Corpus, row: dict, kind: str, split: str, subject: str = "",
           region: Region | None = None) -> Entry:
    return Entry(path=corpus.root / row["file"], rel=row["file"], sha256=row["sha256"],
                 bytes=(corpus.root / row["file"]).stat().st_size, width=int(row["width"]),
                 height=int(row["height"]), kind=kind, split=split, region=region, source=row["source"],
                 license=normalise_license(row["license"]) or row["license"], author=row["author"],
                 subject=subject, date=_year(row["author"]), notes=row["notes"])


def _fresh(name: str) -> Corpus:
    folder = HERE / name
    folder.mkdir(exist_ok=True)
    return Corpus(manifest=folder / "MANIFEST.tsv", root=SHARED / name,
                  root_text=f"../../../shared/corpora/{name}")


def build_general() -> Corpus:
    corpus = _fresh("general")
    rows = sorted(_shared_rows("general"), key=lambda r: r["file"])
    for i, row in enumerate(rows):
        corpus.entries.append(_entry(corpus, row, "general", "heldout" if i % 10 == 5 else "train"))
    return corpus


def build_venue() -> Corpus:
    corpus = _fresh("venue")
    for row in _shared_rows("venue"):
        w, h = int(row["width"]), int(row["height"])
        train = Region(VENUE_TRAIN[0], 0, VENUE_TRAIN[1], h)
        heldout = Region(VENUE_HELDOUT[0], 0, w, h)
        corpus.entries.append(_entry(corpus, row, "venue", "train", region=train))
        corpus.entries.append(_entry(corpus, row, "venue", "heldout", region=heldout))
    return corpus


def build_faces() -> Corpus:
    corpus = _fresh("faces")
    for row in sorted(_shared_rows("faces"), key=lambda r: r["file"]):
        person = row["person"]
        heldout = int(hashlib.sha256(person.encode()).hexdigest()[:8], 16) % 10 == 0
        corpus.entries.append(_entry(corpus, row, "subject", "heldout" if heldout else "train", subject=person))
    return corpus


def main() -> None:
    if not SHARED.is_dir():
        sys.exit(f"{SHARED} not found: the manifests are built from the shared corpora")
    for build in (build_general, build_venue, build_faces):
        corpus = build()
        corpus.save()
        print(corpus.summary())


if __name__ == "__main__":
    main()
