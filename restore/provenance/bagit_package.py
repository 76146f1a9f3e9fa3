"""An archival package: a BagIt bag holding the master, the access copy and all their provenance.

Layout (inside ``data/``): ``master/`` the FFV1/Matroska preservation master with its
provenance JSON, PREMIS XML, framemd5 files and C2PA sidecar; ``access/`` the MP4
access copy (its C2PA manifest is embedded) with the same companions. Without an
access copy given, one is made from the master (H.264 CRF 18, AAC) and signed with
the master as its C2PA parent, so the chain source → master → access is on record. Every file is
listed in sha256 and sha512 manifests. When the ``mediaconch`` CLI is installed the
master is first checked against ``ffv1-master.mediaconch.xml`` and the report is
packed beside it. The bag is built under a temporary name and renamed when valid.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from importlib import resources
from pathlib import Path

import bagit

from restore import __version__
from restore.errors import InputError, OutputError
from restore.provenance.record import sidecar_paths

CHECKSUMS = ["sha256", "sha512"]
MATROSKA = {".mkv", ".mka", ".mk3d"}
# The access copy restore makes by default (restore/media/encode.py's h264 defaults).
ACCESS_VIDEO = ["-c:v", "libx264", "-preset", "medium", "-crf", "18", "-profile:v", "high", "-pix_fmt", "yuv420p"]
ACCESS_AUDIO = ["-c:a", "aac", "-b:a", "256k"]
POLICY_NAME = "ffv1-master.mediaconch.xml"


def policy_path() -> Path:
    return Path(str(resources.files("restore.provenance") / POLICY_NAME))


def mediaconch_check(master: Path) -> tuple[bool, str] | None:
    """(passed, report) from MediaConch against our FFV1 master policy; None when it is not installed."""
    if not shutil.which("mediaconch"):
        return None
    proc = subprocess.run(["mediaconch", "-p", str(policy_path()), str(master)], capture_output=True, text=True)
    report = proc.stdout.strip() or proc.stderr.strip()
    # mediaconch exits 0 whether the file passes or fails: the verdict is the first word.
    return report.startswith("pass!"), report


def failed_rules(report: str) -> list[str]:
    """The top-level rules a MediaConch report marks failed ("   --   [fail:NAME]").

    Deeper lines belong to "or" groups, which pass when any member does; a failing
    group shows up at the top level under its own name.
    """
    names = []
    for line in report.splitlines():
        match = re.match(r"^\s*--(\s+)\[fail:(.*)\]$", line)
        if match and len(match.group(1)) == 3:
            names.append(match.group(2))
    return names


def _companions(media: Path) -> list[Path]:
    """The media file and each provenance file that sits beside it."""
    return [media] + [p for p in sidecar_paths(media).values() if p is not None and p.is_file()]


def _record_digest(media: Path) -> str | None:
    try:
        return json.loads(sidecar_paths(media)["provenance"].read_text()).get("record_sha256")
    except (OSError, ValueError):
        return None


def _field_order(path: Path) -> str:
    proc = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=field_order",
                           "-of", "csv=p=0", str(path)], capture_output=True, text=True)
    return proc.stdout.strip()


def make_access_copy(master: Path, target: Path, *, sign: bool = True) -> Path:
    """Encode target (MP4) from master and give it its own record, with master as its source."""
    from restore.provenance.finalize import finalize_output
    from restore.provenance.premis import now_iso

    interlace = []
    order = _field_order(master)
    if order in ("tt", "bb", "tb", "bt"):  # keep fields as fields: the access copy must not invent frames
        interlace = ["-flags", "+ildct+ilme", "-x264-params", "tff=1" if order in ("tt", "tb") else "bff=1"]
    started = now_iso()
    tmp = target.with_name(f".{target.name}.{os.getpid()}.partial.mp4")
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(master), "-map", "0:v:0", "-map", "0:a?",
           *ACCESS_VIDEO, *interlace, *ACCESS_AUDIO, "-movflags", "+faststart", "-y", str(tmp)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        raise OutputError(f"cannot make the access copy of {master.name}: {last}")
    os.replace(tmp, target)
    record = {
        "restore_version": __version__,
        "pipeline": {"name": "access copy", "yaml": None, "path": None},
        "stages": [],
        "device": "cpu",
        "started": started,
        "finished": now_iso(),
        "derived_from": {"name": master.name, "record_sha256": _record_digest(master)},
        "output_format": {"codec": "h264", "crf": 18, "preset": "medium", "pix_fmt": "yuv420p", "audio": "aac"},
    }
    finalize_output(target, master, record, sign=sign)
    return target


def build_package(master: Path, access: Path | None, dir: Path, *, check_policy: bool = True,
                  make_access: bool = True, sign: bool = True, extra_info: dict[str, str] | None = None,
                  extra_files: dict[str, bytes] | None = None) -> Path:
    """Write a validated BagIt bag at dir; refuse an existing non-empty dir.

    Without ``access``, an access copy is made from the master (``make_access=False`` packs the
    master alone). ``sign`` applies to that access copy. ``extra_info`` adds fields to bag-info.txt
    (e.g. who approved the restoration); ``extra_files`` adds payload files by name (under ``data/``),
    e.g. the approval record and the operator's corrections.
    """
    master, dir = Path(master), Path(dir)
    access = Path(access) if access is not None else None
    if master.suffix.lower() not in MATROSKA:
        raise InputError(f"the preservation master must be FFV1 in Matroska (.mkv), got {master.name}")
    for media in (master, access):
        if media is not None and not media.is_file():
            raise InputError(f"cannot package {media}: no such file")
    if dir.exists() and (not dir.is_dir() or any(dir.iterdir())):
        raise OutputError(f"package folder {dir} exists and is not empty")
    bag_info = {
        "External-Description": f"restore preservation package: master {master.name}"
                                + (f", access copy {access.name}" if access else
                                   f", access copy {master.stem}.mp4 made from the master" if make_access else "")
                                + "; provenance JSON, PREMIS XML, framemd5, C2PA",
        "Bag-Software-Agent": f"restore {__version__} (bagit {bagit.VERSION})",
    }
    digest = _record_digest(master)
    if digest:
        bag_info["Restore-Master-Record-SHA256"] = digest
    bag_info.update(extra_info or {})
    for name in extra_files or {}:
        if "/" in name or "\\" in name or name.startswith(".") or name in ("master", "access"):
            raise OutputError(f"cannot add {name!r} to the package: a plain file name is needed")

    staging = dir.with_name(f".{dir.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        (staging / "master").mkdir(parents=True)
        policy = mediaconch_check(master) if check_policy else None
        if policy is not None:
            passed, report = policy
            if not passed:
                raise OutputError(f"{master.name} fails the FFV1 master policy ({POLICY_NAME}): "
                                  + "; ".join(failed_rules(report) or ["see mediaconch -p " + str(policy_path())]))
            (staging / "master" / f"{master.name}.mediaconch.txt").write_text(report + "\n")
            bag_info["Restore-MediaConch-Policy"] = f"{POLICY_NAME}: pass"
        for path in _companions(master):
            shutil.copy2(path, staging / "master" / path.name)
        if access is not None:
            (staging / "access").mkdir()
            for path in _companions(access):
                shutil.copy2(path, staging / "access" / path.name)
        elif make_access:
            (staging / "access").mkdir()
            make_access_copy(staging / "master" / master.name,
                             staging / "access" / f"{master.stem}.mp4", sign=sign)
        for name, data in (extra_files or {}).items():
            (staging / name).write_bytes(data)
        bag = bagit.make_bag(str(staging), bag_info=bag_info, checksums=CHECKSUMS)
        bag.validate()
        if dir.exists():
            dir.rmdir()  # empty: checked above
        os.replace(staging, dir)
    except bagit.BagError as exc:
        raise OutputError(f"the package at {dir} did not validate: {exc}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dir
