"""Build the ``debian`` corpus: real photographs from pinned Debian packages, kept outside the repo.

    python corpora/build_debian.py            # download, extract, select; rewrite the manifest and reports
    python corpora/build_debian.py --verify   # download and extract only; fail if any file differs from MANIFEST.tsv

What it does, in order (every input is committed in ``corpora/debian/``):

1. ``packages.tsv`` pins each package: name, exact version, the suite that carries it, the .deb's
   sha256, which paths inside the package are candidates (globs), and, where the package installs
   a source folder under another name, ``installed=source`` folder pairs so that the copyright
   file's patterns (written against the source tree) find the file.
2. Each .deb is fetched with ``apt-get download PKG=VERSION`` through a private apt state under the
   cache (its own sources list, lists and archives): the system's apt setup is neither read nor
   changed, so this works without root and next to other apt users. The .deb's sha256 is checked,
   then ``dpkg-deb -x`` unpacks it into a temporary folder.
3. Each candidate file is judged, first reason wins:
   a. ``not_photos.tsv`` (manual, with a reason each: paintings, renders, screenshots, ...);
   b. its licence: ``licence_statements.tsv`` when the package's copyright file is free-form
      (the quoted evidence must appear in the named file, or the build stops), otherwise the
      matching DEP-5 paragraph of ``/usr/share/doc/PKG/copyright``; unknown or non-free: out, and
      so is a paragraph that ``refused_licences.tsv`` names (a licence claim we do not rely on,
      with the reason: e.g. photographs "placed in the public domain" by a stock site whose own
      licence says otherwise);
   c. a format Pillow cannot read (JPEG XL, SVG) is left out, not converted;
   d. the automatic photo check (:mod:`restore.training.photo_check`).
   Accepted files are copied byte for byte to ``CACHE/debian/PKG/PATH`` (sha256 as shipped).
4. Exact duplicates (sha256) and near duplicates (perceptual hash, as ``restore corpus check``)
   are reduced to one image: the one with the most pixels, so a wallpaper shipped at five
   resolutions gives its largest.
5. Split: an image is held out when the committed ``corpora/general`` manifest holds out the same
   picture (same package and file or wallpaper folder), or when its sha256 is 0 modulo 10: about
   one in ten, stable when images are added or removed.
6. Writes ``MANIFEST.tsv`` (root ``${RESTORE_CORPORA_CACHE:-~/.cache/restore/corpora}/debian``) and
   ``EXCLUDED.tsv`` (every candidate left out, with the reason).

The cache is ``$RESTORE_CORPORA_CACHE/debian`` (default ``~/.cache/restore/corpora/debian``); the
mirror is ``$RESTORE_DEBIAN_MIRROR`` (default ``http://deb.debian.org/debian``).
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from restore.training import photo_check  # noqa: E402
from restore.training.corpus import (  # noqa: E402
    NEAR_DUPLICATE_HAMMING, NEAR_DUPLICATE_RESIDUAL, Corpus, Entry, _fingerprint, sha256_file)
from restore.training.dep5 import CopyrightFile, quoted_in  # noqa: E402

NAME = "debian"
SPEC = HERE / NAME
ROOT_TEXT = "${RESTORE_CORPORA_CACHE:-~/.cache/restore/corpora}/" + NAME
DEFAULT_MIRROR = "http://deb.debian.org/debian"
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".jxl", ".svg", ".svgz", ".avif"}
UNREADABLE = {".jxl": "JPEG XL", ".svg": "SVG (vector)", ".svgz": "SVG (vector)"}
APT_LISTS_MAX_AGE_S = 24 * 3600


# -- committed inputs ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Package:
    name: str
    version: str
    suite: str
    deb_sha256: str
    include: tuple[str, ...]
    source_dirs: tuple[tuple[str, str], ...] = ()  # (installed folder, folder in the source tree)

    def source_path(self, path: str) -> str | None:
        for installed, source in self.source_dirs:
            if path.startswith(installed + "/"):
                return source + path[len(installed):]
        return None

    @property
    def label(self) -> str:
        return f"{self.name} {self.version} [{self.suite}]"


@dataclass(frozen=True)
class PathRule:
    package: str
    glob: str
    fields: dict

    def matches(self, package: str, path: str) -> bool:
        return package == self.package and fnmatch.fnmatchcase(path, self.glob)


def _rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        lines = [line for line in fh if line.strip() and not line.startswith("#")]
    return list(csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE))


def load_packages() -> list[Package]:
    def pairs(text):
        return tuple(tuple(part.strip() for part in pair.split("=", 1)) for pair in text.split(",") if "=" in pair)
    return [Package(r["package"], r["version"], r["suite"], r["deb_sha256"].strip(),
                    tuple(g.strip() for g in r["include"].split(",") if g.strip()), pairs(r["source_dirs"] or ""))
            for r in _rows(SPEC / "packages.tsv")]


def load_rules(name: str) -> list[PathRule]:
    return [PathRule(r["package"], r["path"], r) for r in _rows(SPEC / name)]


def cache_dir() -> Path:
    base = os.environ.get("RESTORE_CORPORA_CACHE") or "~/.cache/restore/corpora"
    return Path(base).expanduser() / NAME


# -- fetching --------------------------------------------------------------------------------------
class PrivateApt:
    """apt-get with its own sources, lists and archives under the cache; the system's stay untouched."""

    def __init__(self, folder: Path, suites: set[str], mirror: str):
        self.folder = folder
        for sub in ("lists/partial", "archives/partial"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        (folder / "status").touch()
        sources = "".join(f"deb [signed-by={KEYRING}] {mirror} {suite} main\n" for suite in sorted(suites))
        sources_file = folder / "sources.list"
        changed = not sources_file.exists() or sources_file.read_text() != sources
        sources_file.write_text(sources)
        self.options = [
            "-o", f"Dir::Etc::SourceList={sources_file}", "-o", "Dir::Etc::SourceParts=/nonexistent",
            "-o", f"Dir::State::Lists={folder / 'lists'}", "-o", f"Dir::Cache={folder}",
            "-o", f"Dir::Cache::archives={folder / 'archives'}", "-o", f"Dir::State::status={folder / 'status'}",
            "-o", "Debug::NoLocking=1",  # the state is ours alone; the system's lock is not involved
        ]
        if os.geteuid() == 0:
            # as root apt drops to the _apt user, who cannot write into a home folder's cache
            self.options += ["-o", "APT::Sandbox::User=root"]
        stamp = folder / "lists" / ".updated"
        if changed or not stamp.exists() or time.time() - stamp.stat().st_mtime > APT_LISTS_MAX_AGE_S:
            self._run(["apt-get", *self.options, "-q", "update"])
            stamp.touch()

    def download(self, package: Package, into: Path) -> Path:
        into.mkdir(parents=True, exist_ok=True)
        before = set(into.glob("*.deb"))
        self._run(["apt-get", *self.options, "-q", "download", f"{package.name}={package.version}"], cwd=into)
        new = sorted(set(into.glob("*.deb")) - before) or sorted(into.glob(f"{package.name}_*.deb"))
        if not new:
            raise SystemExit(f"{package.label}: apt-get download left no .deb")
        return new[0]

    @staticmethod
    def _run(command: list[str], cwd: Path | None = None) -> None:
        result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
        if result.returncode != 0:
            raise SystemExit(f"{' '.join(command[:1] + command[-2:])} failed:\n{result.stderr.strip()}\n"
                             "A version no longer in the suite is kept at snapshot.debian.org; download that "
                             ".deb into the cache's _debs/ folder and run again.")


def fetch_and_extract(apt: PrivateApt, package: Package, debs: Path, into: Path) -> str:
    """Unpack the pinned .deb into ``into``; returns its sha256 (checked when the pin has one)."""
    existing = sorted(debs.glob(f"{package.name}_*.deb"))
    deb = next((d for d in existing if _deb_version(d) == package.version), None) or apt.download(package, debs)
    digest = sha256_file(deb)
    if package.deb_sha256 and digest != package.deb_sha256:
        raise SystemExit(f"{package.label}: {deb.name} has sha256 {digest}, packages.tsv pins {package.deb_sha256}")
    subprocess.run(["dpkg-deb", "-x", str(deb), str(into)], check=True)
    return digest


def _deb_version(deb: Path) -> str:
    out = subprocess.run(["dpkg-deb", "-f", str(deb), "Version"], capture_output=True, text=True, check=True)
    return out.stdout.strip()


# -- judging one file -----------------------------------------------------------------------------
@dataclass
class Candidate:
    package: Package
    path: str                 # inside the package, no leading slash
    source_file: Path         # in the temporary extraction
    licence: str = ""
    author: str = ""
    licence_note: str = ""
    stats: photo_check.PhotoStats | None = None
    sha256: str = ""

    @property
    def rel(self) -> str:
        return f"{self.package.name}/{self.path}"


def _licence(candidate: Candidate, copyright_file: CopyrightFile | None, statements: list[PathRule],
             extracted: Path, refused: list[PathRule] = ()) -> str | None:
    """Fill the candidate's licence; returns the reason it has none we accept."""
    pkg, path = candidate.package.name, candidate.path
    statement_rule = next((r for r in statements if r.matches(pkg, path)), None)
    if statement_rule:
        evidence = statement_rule.fields["evidence"]
        text = (extracted / evidence).read_text(encoding="utf-8", errors="replace")
        if not quoted_in(statement_rule.fields["quote"], text):
            raise SystemExit(f"licence_statements.tsv: {pkg} {statement_rule.glob}: the quote is not in /{evidence}")
        candidate.licence = statement_rule.fields["license"]
        candidate.author = statement_rule.fields["author"]
        candidate.licence_note = f'licence from /{evidence}: "{statement_rule.fields["quote"]}"'
        return None
    if copyright_file is None:
        return "the package ships no copyright file"
    if not copyright_file.machine_readable:
        return "free-form copyright file and no statement in licence_statements.tsv for this file"
    found = copyright_file.statement_for(path, candidate.package.source_path(path))
    if found is None:
        return "no Files: paragraph of the copyright file matches"
    if found.why_refused:
        return found.why_refused
    refusal = next((r for r in refused if r.package == pkg and r.glob == found.pattern), None)
    if refusal:
        return f'paragraph "Files: {found.pattern}" is not relied on (refused_licences.tsv): {refusal.fields["reason"]}'
    candidate.licence = found.spdx
    candidate.author = found.copyright
    scope = "catch-all paragraph" if found.catch_all else "per-file paragraph"
    candidate.licence_note = (f"licence from /usr/share/doc/{pkg}/copyright, {scope} "
                              f'"Files: {found.pattern}", "License: {found.expression}"')
    return None


def judge_package(package: Package, extracted: Path, not_photos: list[PathRule],
                  statements: list[PathRule], refused: list[PathRule] = ()) -> tuple[list[Candidate], list[tuple[str, str]]]:
    copyright_path = extracted / "usr/share/doc" / package.name / "copyright"
    copyright_file = (CopyrightFile.parse(copyright_path.read_text(encoding="utf-8", errors="replace"))
                      if copyright_path.is_file() else None)
    accepted, excluded = [], []
    files = sorted(p for p in extracted.rglob("*") if p.is_file() and not p.is_symlink()
                   and p.suffix.lower() in IMAGE_SUFFIXES)
    for file in files:
        path = file.relative_to(extracted).as_posix()
        if not any(fnmatch.fnmatchcase(path, g) for g in package.include):
            continue
        candidate = Candidate(package, path, file)
        manual = next((r for r in not_photos if r.matches(package.name, path)), None)
        if manual:
            excluded.append((path, f"not taken (manual): {manual.fields['reason']}"))
            continue
        why = _licence(candidate, copyright_file, statements, extracted, refused)
        if why:
            excluded.append((path, f"licence: {why}"))
            continue
        if file.suffix.lower() in UNREADABLE:
            excluded.append((path, f"format: {UNREADABLE[file.suffix.lower()]} is not read by Pillow/OpenCV; "
                                   "not converted"))
            continue
        try:
            candidate.stats = photo_check.measure(file)
        except Exception as exc:  # a file Pillow cannot open is not a training image
            excluded.append((path, f"unreadable: {type(exc).__name__}"))
            continue
        reason = photo_check.rejection(candidate.stats)
        if reason:
            excluded.append((path, f"not a photograph (automatic): {reason}"))
            continue
        candidate.sha256 = sha256_file(file)
        accepted.append(candidate)
    return accepted, excluded


# -- the whole corpus -----------------------------------------------------------------------------
def _thumbnail(path: Path) -> np.ndarray:
    from PIL import Image
    with Image.open(path) as img:
        img.draft("RGB", (512, 512))
        img = img.convert("RGB")
        img.thumbnail((512, 512), Image.BOX)
        return np.asarray(img, dtype=np.float32) / 255.0


def reduce_duplicates(candidates: list[Candidate]) -> tuple[list[Candidate], list[tuple[Candidate, str]]]:
    """One image per picture: exact copies by sha256, near copies (other sizes) by perceptual hash."""
    kept, dropped, by_sha = [], [], {}
    for c in candidates:
        if c.sha256 in by_sha:
            dropped.append((c, f"duplicate: the same bytes as {by_sha[c.sha256].rel}"))
        else:
            by_sha[c.sha256] = c
            kept.append(c)
    prints = [_fingerprint(_thumbnail(c.source_file)) for c in kept]
    hashes = np.stack([bits for bits, _ in prints])
    thumbs = np.stack([thumb for _, thumb in prints])
    distance = np.unpackbits(hashes[:, None, :] ^ hashes[None, :, :], axis=2).sum(axis=2)
    group = list(range(len(kept)))  # union-find over near-duplicate pairs

    def find(i):
        while group[i] != i:
            group[i] = group[group[i]]
            i = group[i]
        return i
    for i, j in zip(*np.nonzero(np.triu(distance <= NEAR_DUPLICATE_HAMMING, k=1))):
        if float(np.abs(thumbs[i] - thumbs[j]).mean()) < NEAR_DUPLICATE_RESIDUAL:
            group[find(j)] = find(i)
    members: dict[int, list[int]] = {}
    for i in range(len(kept)):
        members.setdefault(find(i), []).append(i)
    survivors = []
    for indices in members.values():
        best = max(indices, key=lambda i: (kept[i].stats.width * kept[i].stats.height, -i))
        survivors.append(best)
        for i in indices:
            if i != best:
                dropped.append((kept[i], f"near duplicate of {kept[best].rel} "
                                         f"({kept[best].stats.width}x{kept[best].stats.height} kept)"))
    return [kept[i] for i in sorted(survivors)], dropped


def _picture_identity(path: str) -> str:
    # A KDE-style wallpaper is a folder of sizes (Name/contents/images/WxH.jpg): the folder names it.
    match = re.search(r"([^/]+)/contents/images[^/]*/[^/]+$", path)
    return match.group(1) if match else Path(path).stem


def general_heldout() -> set[tuple[str, str]]:
    """(package, picture) pairs that corpora/general holds out, so training here never sees them."""
    corpus = Corpus.load(HERE / "general")
    held = set()
    for entry in corpus.select(split="heldout"):
        package, _, rest = entry.source.partition(" ")
        held.add((package, _picture_identity(rest.rsplit(" ", 1)[-1])))
    return held


def split_of(candidate: Candidate, held: set[tuple[str, str]]) -> str:
    if (candidate.package.name, _picture_identity(candidate.path)) in held:
        return "heldout"
    return "heldout" if int(candidate.sha256, 16) % 10 == 0 else "train"


def _entry(corpus: Corpus, c: Candidate, split: str, held: set) -> Entry:
    s = c.stats
    notes = [c.licence_note,
             f"photo check: flat {s.flat_fraction:.2f}, colours {s.colour_fraction:.3f}/px"
             + (", black and white" if s.grey else "")]
    if split == "heldout" and (c.package.name, _picture_identity(c.path)) in held:
        notes.append("held out because corpora/general holds out the same picture")
    return Entry(path=corpus.root / c.rel, rel=c.rel, sha256=c.sha256, bytes=c.source_file.stat().st_size,
                 width=s.width, height=s.height, kind="general", split=split,
                 source=f"{c.package.label} /{c.path}", license=c.licence, author=c.author, notes="; ".join(notes))


def build(verify: bool = False, keep_debs: bool = False) -> int:
    started = time.time()
    packages = load_packages()
    not_photos = load_rules("not_photos.tsv")
    statements = load_rules("licence_statements.tsv")
    refused = load_rules("refused_licences.tsv")
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    mirror = os.environ.get("RESTORE_DEBIAN_MIRROR", DEFAULT_MIRROR)
    apt = PrivateApt(cache / "_apt", {p.suite for p in packages}, mirror)
    debs = cache / "_debs"
    staging = Path(tempfile.mkdtemp(prefix="staging-", dir=cache))
    accepted, excluded, digests = [], [], {}
    try:
        for package in packages:
            extracted = staging / package.name
            digests[package.name] = fetch_and_extract(apt, package, debs, extracted)
            took, left = judge_package(package, extracted, not_photos, statements, refused)
            accepted += took
            excluded += [(package, path, reason) for path, reason in left]
            print(f"{package.label}: {len(took)} photographs, {len(left)} left out", flush=True)
        kept, dropped = reduce_duplicates(accepted)
        excluded += [(c.package, c.path, reason) for c, reason in dropped]
        held = general_heldout()
        corpus = Corpus(manifest=SPEC / "MANIFEST.tsv", root=cache, root_text=ROOT_TEXT)
        for c in kept:
            corpus.entries.append(_entry(corpus, c, split_of(c, held), held))
        if verify:
            return _verify(corpus, kept)
        _install(kept, cache)
        corpus.save()
        _write_excluded(excluded)
        for package in packages:
            if not package.deb_sha256:
                print(f"note: pin {package.name} {package.version} with deb_sha256 {digests[package.name]}")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if not keep_debs:
            shutil.rmtree(debs, ignore_errors=True)
    size = sum(f.stat().st_size for f in cache.rglob("*") if f.is_file() and not f.is_relative_to(cache / "_apt"))
    print(f"{corpus.summary()}\n{len(excluded)} candidates left out (corpora/{NAME}/EXCLUDED.tsv); "
          f"cache {cache}: {size / 1e6:.0f} MB; {time.time() - started:.0f} s")
    return 0


def _install(kept: list[Candidate], cache: Path) -> None:
    """Copy the chosen files, bytes unchanged, to CACHE/PKG/PATH; remove files no longer chosen."""
    wanted = set()
    for c in kept:
        target = cache / c.rel
        wanted.add(target)
        if target.is_file() and sha256_file(target) == c.sha256:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(c.source_file, target)
    for package_dir in {cache / c.package.name for c in kept}:
        for stale in package_dir.rglob("*"):
            if stale.is_file() and stale not in wanted:
                stale.unlink()


def _verify(corpus: Corpus, kept: list[Candidate]) -> int:
    """Compare a fresh selection with the committed manifest, without writing anything."""
    committed = {e.rel: e.sha256 for e in Corpus.load(SPEC).entries}
    fresh = {c.rel: c.sha256 for c in kept}
    differences = sorted(set(committed.items()) ^ set(fresh.items()))
    for rel, sha in differences:
        print(f"{'only in manifest' if committed.get(rel) == sha else 'only in this build'}: {rel} {sha[:12]}")
    print("the build reproduces MANIFEST.tsv" if not differences else f"{len(differences)} difference(s)")
    return 1 if differences else 0


def _write_excluded(excluded: list[tuple[Package, str, str]]) -> None:
    lines = ["# Every candidate file of corpora/debian/packages.tsv that is not in MANIFEST.tsv, and why.",
             "# Written by corpora/build_debian.py; do not edit (manual exclusions go in not_photos.tsv).",
             "package\tversion\tpath\treason"]
    for package, path, reason in sorted(excluded, key=lambda x: (x[0].name, x[1])):
        lines.append(f"{package.name}\t{package.version}\t/{path}\t{reason}")
    (SPEC / "EXCLUDED.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--verify", action="store_true", help="check that a fresh build gives MANIFEST.tsv; write nothing")
    parser.add_argument("--keep-debs", action="store_true", help="keep the downloaded .deb files in the cache")
    args = parser.parse_args(argv)
    return build(verify=args.verify, keep_debs=args.keep_debs)


if __name__ == "__main__":
    sys.exit(main())
