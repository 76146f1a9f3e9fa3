"""The provenance record: what was run on which file, by which software and models.

A record file (``OUTPUT.provenance.json``) has two parts:

* ``record`` — everything known before signing (input, stages, models, software,
  frame checksums, PREMIS events). Its canonical JSON digest, ``record_sha256``, is
  carried inside the signed C2PA manifest, so editing any of it is detectable.
* ``sealed`` — what can only be known after signing (the final file's sha256, the
  C2PA manifest, the signer). ``verify`` checks each of these against the files
  themselves, so it needs no signature of its own.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from restore.digest import sha256_file as sha256_file   # re-exported: the record's checksums

SCHEMA = "restore.provenance/1"


def plain(value):
    """The runner's facts as plain JSON values: Fractions, paths and numpy scalars become
    strings or numbers, and non-finite floats (PSNR of identical frames is inf) become
    strings, because canonical JSON has no Infinity or NaN."""
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [plain(item) for item in value]
    if isinstance(value, bool) or value is None or isinstance(value, (str, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        return plain(value.item())
    return str(value)


def canonical_json(value) -> bytes:
    """One byte string per value: sorted keys, no whitespace, UTF-8. What record_sha256 hashes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def record_digest(record: dict) -> str:
    return hashlib.sha256(canonical_json(record)).hexdigest()


# Containers c2pa embeds a manifest into; every other output gets a sidecar.
C2PA_EMBEDDING_SUFFIXES = {".mp4", ".m4v", ".mov"}


def sidecar_paths(output: Path) -> dict[str, Path | None]:
    """Where each piece of provenance lives next to OUTPUT.

    The C2PA sidecar takes OUTPUT's stem (``film.c2pa`` beside ``film.mkv``) because
    that is where c2patool and other C2PA readers look for it; MP4/MOV embed their
    manifest and have none ("c2pa" is None), so ``film.mp4`` beside ``film.mkv`` never
    claims the master's sidecar. The rest keep the full name, so a master and its
    access copy in one folder never collide.
    """
    embedded = output.suffix.lower() in C2PA_EMBEDDING_SUFFIXES
    return {
        "provenance": output.with_name(output.name + ".provenance.json"),
        "premis": output.with_name(output.name + ".premis.xml"),
        "framemd5": output.with_name(output.name + ".framemd5"),
        "source_framemd5": output.with_name(output.name + ".source.framemd5"),
        "c2pa": None if embedded else output.with_suffix(".c2pa"),
        # an image sequence source: the sha256 of each of its files (sha256sum's format)
        "source_sha256": output.with_name(output.name + ".source.sha256"),
    }


def sequence_sidecar_paths(folder: Path, name: str) -> dict[str, Path | None]:
    """The provenance files of an output image sequence, inside its folder: ``NAME.provenance.json`` …,
    ``NAME.sha256`` (each frame file's sha256). No C2PA manifest: it binds single files."""
    return {"provenance": folder / f"{name}.provenance.json", "premis": folder / f"{name}.premis.xml",
            "framemd5": folder / f"{name}.framemd5", "source_framemd5": folder / f"{name}.source.framemd5",
            "c2pa": None, "source_sha256": folder / f"{name}.source.sha256", "frames_sha256": folder / f"{name}.sha256"}


def _distribution_version(*names: str) -> str | None:
    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


@lru_cache(maxsize=1)
def ffmpeg_version() -> str | None:
    if not shutil.which("ffmpeg"):
        return None
    proc = subprocess.run(["ffmpeg", "-hide_banner", "-version"], capture_output=True, text=True)
    first = proc.stdout.splitlines()[0] if proc.stdout else ""
    # "ffmpeg version 5.1.6-0+deb12u1 Copyright …" → "5.1.6-0+deb12u1"
    parts = first.split()
    return parts[2] if len(parts) > 2 and parts[1] == "version" else first or None


def software_versions(stages: list[dict] | None = None) -> dict:
    """Versions of everything that can change pixels or the record, read without importing torch.

    ``stages``: the runner record's stages; when one of them ran a VapourSynth method, the block
    gains ``vapoursynth`` (its release, the plugins those methods call and their versions).
    facexlib is not listed: restore imports nothing from it (restore/faces copies its template).
    """
    from restore import __version__
    from restore.provenance.vapoursynth import software_entry

    c2pa_sdk = None
    try:
        import c2pa

        c2pa_sdk = c2pa.sdk_version()
    except Exception:  # the record is still worth writing without it
        pass
    versions = {
        "restore": __version__,
        "python": sys.version.split()[0],
        "torch": _distribution_version("torch"),
        "torchvision": _distribution_version("torchvision"),
        "basicsr": _distribution_version("basicsr", "basicsr-fixed"),
        "numpy": _distribution_version("numpy"),
        "opencv": _distribution_version("opencv-python", "opencv-python-headless"),
        "ffmpeg": ffmpeg_version(),
        "c2pa-python": _distribution_version("c2pa-python"),
        "c2pa-rs": c2pa_sdk,
        "bagit": _distribution_version("bagit"),
    }
    vapoursynth = software_entry(stages)
    if vapoursynth is not None:
        versions["vapoursynth"] = vapoursynth
    return versions


def card_corpora(card: dict | None) -> list[dict]:
    """The training corpora a model card names: [{name, manifest_sha256, licences}].

    restore's cards list ``corpora`` (with ``licence_counts``); a single ``corpus`` mapping
    (with ``licences``) is read too. Imported weights have none: their card's ``origin``
    and ``source`` say where they came from instead.
    """
    card = card or {}
    entries = list(card.get("corpora") or [])
    if isinstance(card.get("corpus"), dict):
        entries.append(card["corpus"])
    return [{"name": c.get("name"), "manifest_sha256": c.get("manifest_sha256"),
             "licences": c.get("licence_counts") or c.get("licences")} for c in entries if isinstance(c, dict)]


def model_summary(model: dict) -> dict:
    """What the record, PREMIS and C2PA say about one model."""
    card = model.get("card") or {}
    corpora = card_corpora(card)
    arch = card.get("arch")
    return {
        "name": model.get("name"),
        "sha256": model.get("sha256"),
        "card_sha256": model.get("card_sha256"),
        "architecture": card.get("architecture") or (arch.get("type") if isinstance(arch, dict) else arch),
        "origin": card.get("origin"),
        "source": card.get("source"),
        "corpora": corpora,
        # the first corpus's manifest, for one-line summaries; all of them are in "corpora"
        "corpus_manifest_sha256": corpora[0]["manifest_sha256"] if corpora else None,
    }


def models_used(stages: list[dict]) -> list[dict]:
    """Every model once, with its weights hash, card digest and training corpus manifests."""
    seen: dict[str, dict] = {}
    for stage in stages:
        for model in stage.get("models") or []:
            key = model.get("sha256") or model.get("name")
            if key not in seen:
                seen[key] = {**model_summary(model), "stages": []}
            seen[key]["stages"].append(stage.get("stage"))
    return list(seen.values())


def build_record(runner_record: dict, *, source: Path, output: Path, source_sha256: str,
                 source_framemd5: dict, output_framemd5: dict, software: dict, events: list[dict],
                 agents: list[dict], source_size: int | None = None) -> dict:
    """The signed part of the record: the runner's facts plus hashes, versions and events."""
    record = {key: value for key, value in runner_record.items()
              if key not in ("source_probe",)}
    record["source"] = {
        "name": source.name,
        "sha256": source_sha256,
        "size": source.stat().st_size if source_size is None else source_size,
        "probe": runner_record.get("source_probe"),
        "framemd5": source_framemd5,
    }
    record["output"] = {
        "name": output.name,
        "container": output.suffix.lstrip(".").lower(),
        "format": runner_record.get("output_format"),
        "framemd5": output_framemd5,
    }
    record["models"] = models_used(runner_record.get("stages") or [])
    record["software"] = software
    record["events"] = events
    record["agents"] = agents
    record.pop("output_format", None)
    return record


def write_atomic(path: Path, data: bytes) -> Path:
    """Write under a temporary name and rename: a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_json_atomic(path: Path, value) -> Path:
    return write_atomic(path, (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode())


def load_provenance(path: Path) -> dict:
    """Parse a provenance file; ValueError when it is not one of ours."""
    data = json.loads(path.read_bytes())
    if not isinstance(data, dict) or data.get("schema") != SCHEMA or not isinstance(data.get("record"), dict):
        raise ValueError(f"{path.name} is not a {SCHEMA} record")
    return data
