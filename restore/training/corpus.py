"""Training corpora with provenance: a text manifest per corpus, and the checks training relies on.

A corpus is a folder holding ``MANIFEST.tsv``. The manifest is plain text so that a change
to a corpus is a readable diff::

    # restore corpus manifest v1
    # root: ../../../shared/corpora/general
    path	sha256	bytes	width	height	kind	split	region	source	license	author	subject	date	notes
    lake.jpg	e81320…	412345	1600	900	general	train		Debian package …	CC0-1.0	…

``root`` (default ``.``) is where image paths are resolved, relative to the manifest's
folder. It lets the project commit manifests for images it must not redistribute: the
rows keep each image's sha256, so an image changed behind the manifest is detected.
A root may start with ``~`` and use ``${NAME}`` or ``${NAME:-default}`` for an environment
variable, so that a manifest can point at a per-user cache that a build script fills, e.g.
``${RESTORE_CORPORA_CACHE:-~/.cache/restore/corpora}/debian``.

``region`` (``x0,y0,x1,y1``, pixels, end exclusive) makes a row a crop of its image; one
photograph can then give a ``train`` and a ``heldout`` row whose regions must not overlap.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from restore.digest import sha256_file
from restore.errors import UserError

MANIFEST_NAME = "MANIFEST.tsv"
MAGIC = "# restore corpus manifest v1"
COLUMNS = ["path", "sha256", "bytes", "width", "height", "kind", "split", "region",
           "source", "license", "author", "subject", "date", "notes"]
KINDS = ("general", "venue", "subject")
SPLITS = ("train", "heldout")
MIN_SIDE = 128           # below this a crop cannot give a ×4 training pair of 32 px
NEAR_DUPLICATE_HAMMING = 10   # pHash bits (of 64) for a candidate pair
NEAR_DUPLICATE_RESIDUAL = 0.06  # mean |a-b| of normalised 64×64 thumbnails to confirm (copies ~0.02, distinct faces >0.11)

# Licences we know how to honour. Unknown strings are refused rather than guessed at:
# a training set is only as redistributable as its least clear image.
_SPDX = {
    "CC0-1.0", "PDDL-1.0", "Unlicense", "MIT", "MIT-0", "ISC", "Zlib", "Apache-2.0",
    "BSD-2-Clause", "BSD-3-Clause", "0BSD", "Artistic-2.0", "OFL-1.1",
    "CC-BY-2.0", "CC-BY-2.5", "CC-BY-3.0", "CC-BY-4.0",
    "CC-BY-SA-2.0", "CC-BY-SA-2.5", "CC-BY-SA-3.0", "CC-BY-SA-4.0",
    "GPL-2.0-only", "GPL-2.0-or-later", "GPL-3.0-only", "GPL-3.0-or-later",
    "LGPL-2.1-only", "LGPL-2.1-or-later", "LGPL-3.0-only", "LGPL-3.0-or-later",
    "MPL-2.0", "EUPL-1.2", "etalab-2.0", "LO-2.0",
}
# Older SPDX spellings still found in Debian copyright files, mapped to their canonical ids.
_SPDX_ALIASES = {
    "GPL-2.0": "GPL-2.0-only", "GPL-2.0+": "GPL-2.0-or-later", "GPL-3.0": "GPL-3.0-only",
    "GPL-3.0+": "GPL-3.0-or-later", "LGPL-2.1": "LGPL-2.1-only", "LGPL-2.1+": "LGPL-2.1-or-later",
    "LGPL-3.0": "LGPL-3.0-only", "LGPL-3.0+": "LGPL-3.0-or-later",
}
_PUBLIC_DOMAIN = {"public-domain", "public-domain-us-government", "pd", "pdm-1.0", "public domain"}


def normalise_license(value: str) -> str | None:
    """The canonical form of a licence we accept, or None when unknown."""
    text = value.strip()
    if text in _SPDX:
        return text
    if text in _SPDX_ALIASES:
        return _SPDX_ALIASES[text]
    if text.lower() in _PUBLIC_DOMAIN:
        return "public-domain"
    folded = {s.lower(): s for s in _SPDX | set(_SPDX_ALIASES)}
    if text.lower() in folded:
        return normalise_license(folded[text.lower()])
    return None


@dataclass(frozen=True)
class Region:
    x0: int
    y0: int
    x1: int
    y1: int

    @classmethod
    def parse(cls, text: str) -> "Region":
        try:
            x0, y0, x1, y1 = (int(v) for v in text.split(","))
        except ValueError:
            raise ValueError(f"region {text!r} is not x0,y0,x1,y1") from None
        if x1 <= x0 or y1 <= y0 or min(x0, y0) < 0:
            raise ValueError(f"region {text!r} is empty or negative")
        return cls(x0, y0, x1, y1)

    def __str__(self) -> str:
        return f"{self.x0},{self.y0},{self.x1},{self.y1}"

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    def overlaps(self, other: "Region") -> bool:
        return self.x0 < other.x1 and other.x0 < self.x1 and self.y0 < other.y1 and other.y0 < self.y1


@dataclass(frozen=True)
class Entry:
    """One manifest row: an image (or a region of one) and where it came from."""

    path: Path                 # absolute
    rel: str                   # as written in the manifest, relative to the root
    sha256: str
    bytes: int
    width: int
    height: int
    kind: str
    split: str = "train"
    region: Region | None = None
    source: str = ""
    license: str = ""
    author: str = ""
    subject: str = ""
    date: str = ""
    notes: str = ""
    line: int = 0

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of what training sees: the region when there is one."""
        if self.region:
            return self.region.width, self.region.height
        return self.width, self.height

    def label(self) -> str:
        return f"{self.rel}[{self.region}]" if self.region else self.rel

    def load_rgb(self) -> np.ndarray:
        """The image (cropped to its region) as float32 H×W×3 RGB in [0, 1]."""
        image = _open_rgb(self.path)
        if self.region:
            r = self.region
            image = image[r.y0:r.y1, r.x0:r.x1]
        return image.astype(np.float32) / 255.0

    def row(self) -> list[str]:
        return [self.rel, self.sha256, str(self.bytes), str(self.width), str(self.height), self.kind,
                self.split, str(self.region) if self.region else "", self.source, self.license,
                self.author, self.subject, self.date, self.notes]


_ROOT_VARIABLE = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}")


def resolve_root(folder: Path, root_text: str) -> Path:
    """The folder a manifest's ``root:`` names: variables and ``~`` expanded, relative to ``folder``."""
    expanded = _ROOT_VARIABLE.sub(lambda m: os.environ.get(m.group(1)) or m.group(2) or "", root_text)
    return (folder / Path(expanded).expanduser()).resolve()


def _open_rgb(path: Path) -> np.ndarray:
    from PIL import Image
    with Image.open(path) as img:
        img.load()
        return np.asarray(img.convert("RGB"))


def _clean_cell(value: str) -> str:
    # A tab or newline in a cell would shift every column after it.
    return re.sub(r"[\t\r\n]+", " ", value or "").strip()


@dataclass
class Corpus:
    manifest: Path
    root: Path
    root_text: str = "."
    entries: list[Entry] = field(default_factory=list)
    parse_problems: list[str] = field(default_factory=list)

    # -- reading and writing -------------------------------------------------------------
    @classmethod
    def init(cls, directory: str | os.PathLike, root: str = ".") -> "Corpus":
        directory = Path(directory)
        manifest = directory / MANIFEST_NAME
        if manifest.exists():
            raise UserError(f"{manifest} already exists")
        directory.mkdir(parents=True, exist_ok=True)
        corpus = cls(manifest=manifest.resolve(), root=resolve_root(directory, root), root_text=root)
        corpus.save()
        return corpus

    @classmethod
    def load(cls, directory: str | os.PathLike) -> "Corpus":
        path = Path(directory)
        manifest = path if path.is_file() else path / MANIFEST_NAME
        if not manifest.is_file():
            raise UserError(f"no corpus at {directory}: {manifest.name} not found (run `restore corpus init`)")
        text = manifest.read_text(encoding="utf-8")
        lines = text.splitlines()
        if not lines or lines[0].strip() != MAGIC:
            raise UserError(f"{manifest}: not a restore corpus manifest (first line must be {MAGIC!r})")
        root_text = "."
        body_start = 1
        for body_start, line in enumerate(lines[1:], start=1):
            if not line.startswith("#"):
                break
            key, _, value = line[1:].partition(":")
            if key.strip() == "root":
                root_text = value.strip() or "."
        else:
            body_start = len(lines)
        corpus = cls(manifest=manifest.resolve(), root=resolve_root(manifest.parent, root_text),
                     root_text=root_text)
        rows = [line.split("\t") for line in lines[body_start:]]
        if rows and rows[0] != COLUMNS:
            raise UserError(f"{manifest}:{body_start + 1}: columns must be: {' '.join(COLUMNS)}")
        for offset, cells in enumerate(rows[1:]):
            lineno = body_start + 2 + offset
            if not any(c.strip() for c in cells):
                continue
            entry_or_problem = corpus._parse_row(cells, lineno)
            if isinstance(entry_or_problem, Entry):
                corpus.entries.append(entry_or_problem)
            else:
                corpus.parse_problems.append(entry_or_problem)
        return corpus

    def _parse_row(self, cells: list[str], lineno: int) -> Entry | str:
        where = f"{self.manifest.name}:{lineno}"
        if len(cells) != len(COLUMNS):
            return f"{where}: {len(cells)} columns, expected {len(COLUMNS)}"
        row = dict(zip(COLUMNS, cells))
        try:
            region = Region.parse(row["region"]) if row["region"].strip() else None
            numbers = [int(row[k]) for k in ("bytes", "width", "height")]
        except ValueError as exc:
            return f"{where}: {row['path']}: {exc}"
        rel = row["path"].strip()
        if not rel or Path(rel).is_absolute() or ".." in Path(rel).parts:
            return f"{where}: path {rel!r} must be relative to the root, without '..'"
        return Entry(path=self.root / rel, rel=rel, sha256=row["sha256"].strip().lower(), bytes=numbers[0],
                     width=numbers[1], height=numbers[2], kind=row["kind"].strip(),
                     split=row["split"].strip() or "train", region=region, source=row["source"].strip(),
                     license=row["license"].strip(), author=row["author"].strip(),
                     subject=row["subject"].strip(), date=row["date"].strip(), notes=row["notes"].strip(),
                     line=lineno)

    def render(self) -> str:
        # Plain tab-separated lines, no quoting: what you see in a diff is what is stored.
        lines = [MAGIC, f"# root: {self.root_text}", "\t".join(COLUMNS)]
        lines += ["\t".join(_clean_cell(c) for c in entry.row()) for entry in self.entries]
        return "\n".join(lines) + "\n"

    def save(self) -> None:
        """Write the manifest atomically (a temp file in the same folder, then rename)."""
        fd, tmp = tempfile.mkstemp(prefix=".MANIFEST.", suffix=".tmp", dir=self.manifest.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(self.render())
            os.replace(tmp, self.manifest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @property
    def manifest_sha256(self) -> str:
        return sha256_file(self.manifest)

    # -- adding --------------------------------------------------------------------------
    def add(self, files: list[str | os.PathLike], *, kind: str, source: str, license: str,
            subject: str = "", date: str = "", notes: str = "", author: str = "", split: str = "train",
            region: str | None = None) -> list[Entry]:
        """Record images; files outside the root are copied in (never over a different file)."""
        if kind not in KINDS:
            raise UserError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
        if split not in SPLITS:
            raise UserError(f"split {split!r} is not one of {', '.join(SPLITS)}")
        if not source.strip():
            raise UserError("--source is required: say where the images come from")
        canonical = normalise_license(license)
        if canonical is None:
            raise UserError(f"licence {license!r} is unknown: use an SPDX id (e.g. CC0-1.0, CC-BY-4.0) "
                            "or public-domain")
        if date and not re.fullmatch(r"\d{4}(-\d{2})?", date):
            raise UserError(f"date {date!r} must be YYYY or YYYY-MM")
        if kind == "subject" and not subject.strip():
            raise UserError("--subject NAME is required for kind 'subject'")
        parsed_region = None
        if region:
            try:
                parsed_region = Region.parse(region)
            except ValueError as exc:
                raise UserError(str(exc)) from None
        added = []
        for file in files:
            src = Path(file)
            if not src.is_file():
                raise UserError(f"{src}: not a file")
            target = self._place(src)
            try:
                from PIL import Image
                with Image.open(target) as img:
                    width, height = img.size
            except Exception as exc:
                raise UserError(f"{src}: not a readable image ({type(exc).__name__})") from None
            entry = Entry(path=target, rel=target.relative_to(self.root).as_posix(), sha256=sha256_file(target),
                          bytes=target.stat().st_size, width=width, height=height, kind=kind, split=split,
                          region=parsed_region, source=source, license=canonical, author=author,
                          subject=subject, date=date, notes=notes)
            self.entries.append(entry)
            added.append(entry)
        self.save()
        return added

    def _place(self, src: Path) -> Path:
        resolved = src.resolve()
        if resolved.is_relative_to(self.root):
            return resolved
        if self.root != self.manifest.parent:
            # the root is someone else's folder (a shared corpus): never write into it
            raise UserError(f"{src} lies outside this corpus's root {self.root}; put it there first")
        target = self.root / src.name
        if target.exists():
            if sha256_file(target) != sha256_file(resolved):
                raise UserError(f"{target} exists with other content; rename {src.name} first")
            return target
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        shutil.copyfile(resolved, tmp)
        os.replace(tmp, target)
        return target

    # -- summaries -----------------------------------------------------------------------
    def licence_counts(self) -> dict[str, int]:
        return dict(sorted(Counter(e.license or "(none)" for e in self.entries).items()))

    def kind_counts(self) -> dict[str, int]:
        return dict(sorted(Counter(e.kind or "(none)" for e in self.entries).items()))

    def split_counts(self) -> dict[str, int]:
        return dict(sorted(Counter(e.split for e in self.entries).items()))

    def select(self, split: str | None = None, kind: str | None = None) -> list[Entry]:
        return [e for e in self.entries if (split is None or e.split == split) and (kind is None or e.kind == kind)]

    def summary(self) -> str:
        def fmt(counts):
            return ", ".join(f"{k} {v}" for k, v in counts.items()) or "none"
        return (f"{len(self.entries)} images ({self.manifest}); kinds: {fmt(self.kind_counts())}; "
                f"splits: {fmt(self.split_counts())}; licences: {fmt(self.licence_counts())}")

    # -- checking ------------------------------------------------------------------------
    def check(self, min_side: int = MIN_SIDE) -> list[str]:
        """Every problem, one line each; an empty list means training may use the corpus."""
        problems = list(self.parse_problems)
        fingerprints: dict[int, tuple[Entry, np.ndarray, np.ndarray]] = {}
        by_sha: dict[str, list[Entry]] = {}
        for entry in self.entries:
            where = f"{self.manifest.name}:{entry.line}: {entry.label()}"
            problems += [f"{where}: {p}" for p in _metadata_problems(entry)]
            file_problem = _file_problem(entry, min_side)
            if file_problem:
                problems.append(f"{where}: {file_problem}")
                continue
            for other in by_sha.get(entry.sha256, []):
                if entry.region is None or other.region is None:
                    problems.append(f"{where}: exact duplicate of line {other.line} ({other.label()})")
                elif entry.region.overlaps(other.region):
                    problems.append(f"{where}: region overlaps line {other.line} ({other.label()}): "
                                    "train and held-out crops must be disjoint")
            by_sha.setdefault(entry.sha256, []).append(entry)
            fingerprints[entry.line] = (entry, *_fingerprint(entry.load_rgb()))
        problems += _near_duplicates(list(fingerprints.values()), self.manifest.name)
        return problems


def _metadata_problems(entry: Entry) -> list[str]:
    problems = []
    if not entry.license:
        problems.append("no licence")
    elif normalise_license(entry.license) is None:
        problems.append(f"unknown licence {entry.license!r} (use an SPDX id or public-domain)")
    if not entry.source:
        problems.append("no source")
    if entry.kind not in KINDS:
        problems.append(f"kind {entry.kind!r} is not one of {', '.join(KINDS)}")
    if entry.split not in SPLITS:
        problems.append(f"split {entry.split!r} is not one of {', '.join(SPLITS)}")
    if entry.kind == "subject" and not entry.subject:
        problems.append("kind 'subject' needs a subject name")
    if entry.date and not re.fullmatch(r"\d{4}(-\d{2})?", entry.date):
        problems.append(f"date {entry.date!r} is not YYYY or YYYY-MM")
    if not re.fullmatch(r"[0-9a-f]{64}", entry.sha256):
        problems.append("sha256 is not 64 hex digits")
    return problems


def _file_problem(entry: Entry, min_side: int) -> str | None:
    if not entry.path.is_file():
        return f"missing file {entry.path}"
    if sha256_file(entry.path) != entry.sha256:
        return "sha256 differs from the manifest: the image changed since it was added"
    try:
        from PIL import Image
        with Image.open(entry.path) as img:
            img.load()  # decodes every byte: truncated or corrupt files fail here
            size = img.size
    except Exception as exc:
        return f"corrupt image ({type(exc).__name__}: {exc})"
    if size != (entry.width, entry.height):
        return f"image is {size[0]}x{size[1]}, manifest says {entry.width}x{entry.height}"
    if entry.region and (entry.region.x1 > size[0] or entry.region.y1 > size[1]):
        return f"region {entry.region} lies outside the {size[0]}x{size[1]} image"
    w, h = entry.size
    if min(w, h) < min_side:
        return f"too small: {w}x{h}, the shorter side must be at least {min_side} px"
    return None


def _fingerprint(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A 64-bit DCT perceptual hash and a normalised 64×64 thumbnail to confirm candidates.

    The hash survives resizing and re-encoding; the thumbnail residual separates a true copy
    from two different shots on the same studio background (which can share a hash).
    """
    import cv2
    from scipy.fft import dctn

    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    small = cv2.resize(gray, (32, 32), interpolation=cv2.INTER_AREA)
    low = dctn(small, norm="ortho")[:8, :8].ravel()[1:]
    bits = np.packbits(low > np.median(low))
    thumb = cv2.resize(gray, (64, 64), interpolation=cv2.INTER_AREA)
    thumb = (thumb - thumb.mean()) / (thumb.std() + 1e-6)
    return bits, thumb


def _near_duplicates(items: list[tuple[Entry, np.ndarray, np.ndarray]], manifest_name: str) -> list[str]:
    if len(items) < 2:
        return []
    hashes = np.stack([bits for _, bits, _ in items])
    thumbs = np.stack([t for _, _, t in items])
    bitcount = np.unpackbits(hashes[:, None, :] ^ hashes[None, :, :], axis=2).sum(axis=2)
    problems = []
    for i, j in zip(*np.nonzero(np.triu(bitcount <= NEAR_DUPLICATE_HAMMING, k=1))):
        a, b = items[i][0], items[j][0]
        if a.sha256 == b.sha256:
            continue  # exact duplicates and crops of one image are judged above
        residual = float(np.abs(thumbs[i] - thumbs[j]).mean())
        if residual < NEAR_DUPLICATE_RESIDUAL:
            problems.append(f"{manifest_name}:{b.line}: {b.label()}: near duplicate of line {a.line} "
                            f"({a.label()}; hash distance {bitcount[i, j]}, residual {residual:.3f})")
    return problems


def require_valid_corpus(directory: str | os.PathLike, max_lines: int = 5) -> Corpus:
    """The corpus, or a UserError naming its first problems (training refuses a failing corpus)."""
    corpus = Corpus.load(directory)
    problems = corpus.check()
    if problems:
        shown = "; ".join(problems[:max_lines])
        more = f" (and {len(problems) - max_lines} more)" if len(problems) > max_lines else ""
        raise UserError(f"corpus {corpus.manifest} fails its check: {shown}{more}; "
                        "run `restore corpus check` for the full list")
    return corpus
