"""The workbench's data on disk: one folder per job, corrections as versioned JSON beside it.

```
WORKSPACE/jobs/<id>/job.json            what was asked (source relative to the root, preset, trim) and its state
                    progress.json       written by the worker: phase, frames, fps, ETA (read by every tab)
                    worker.log          the worker's output
                    input/trim.mkv      the trimmed source, when a trim was asked (lossless FFV1, sound kept)
                    output/<stem>.restored.mkv  + its provenance, frames log, restore-status.json, and the
                                        segments (.<name>.work/) kept for re-runs after corrections
                    corrections/corrections.json   current corrections (restore.corrections format)
                    corrections/rev-000003.json    every earlier revision, never rewritten
                    corrections/masks/<sha256>.png painted masks, named by their content
                    report/             the review report (restore.review)
                    approval.json       who approved, when, with which note, of which output
                    package/            the BagIt package
```

Nothing here knows how a restoration is done: the worker does that with the batch machinery.
"""

from __future__ import annotations

import datetime
import fcntl
import hashlib
import json
import os
import re
import uuid
from contextlib import contextmanager
from pathlib import Path

import yaml

from restore import corrections as corr
from restore.clock import utc_stamp
from restore.batch.durable import write_json_durably
from restore.errors import UserError

VIDEO_SUFFIXES = {".mkv", ".mov", ".mp4", ".avi", ".mxf", ".ts", ".m2ts", ".mpg", ".mpeg", ".dv", ".y4m", ".webm",
                  ".m4v", ".vob"}
STATES = ("queued", "running", "done", "failed", "cancelled", "interrupted")


now = utc_stamp   # the workbench's timestamps (restore.clock)


def read_json(path: Path, default=None):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return default


class Presets:
    """The pipelines offered: ``pipelines/*.yaml`` of this installation, plus any extra folders."""

    def __init__(self, folders: list[Path]):
        self.folders = [Path(f) for f in folders]

    def all(self) -> dict[str, dict]:
        found: dict[str, dict] = {}
        for folder in self.folders:
            for path in sorted(folder.glob("*.yaml")):
                try:
                    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
                except (OSError, yaml.YAMLError):
                    continue
                if not isinstance(data, dict) or "stages" not in data:
                    continue
                stages = [s.get("stage") for s in data.get("stages") or [] if isinstance(s, dict)]
                found[path.stem] = {"name": path.stem, "path": str(path.resolve()),
                                    "description": " ".join(str(data.get("description") or "").split()),
                                    "stages": stages}
        return found

    def get(self, name: str) -> dict:
        preset = self.all().get(name)
        if preset is None:
            raise UserError(f"no preset named {name!r}")
        return preset


@contextmanager
def locked(folder: Path, name: str):
    """An exclusive lock on ``folder/.name.lock`` (flock): the server's threads and the worker process take
    turns at a read-modify-write of the same file."""
    with open(Path(folder) / f".{name}.lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class Job:
    """One job folder."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.id = self.folder.name

    # --- files -------------------------------------------------------------------------
    @property
    def data(self) -> dict:
        return read_json(self.folder / "job.json", {}) or {}

    def update(self, **changes) -> dict:
        with locked(self.folder, "job"):
            data = {**self.data, **changes, "updated": now()}
            write_json_durably(self.folder / "job.json", data)
            return data

    @property
    def progress(self) -> dict:
        return read_json(self.folder / "progress.json", {}) or {}

    @property
    def output(self) -> Path:
        return self.folder / "output" / self.data["output_name"]

    @property
    def report_dir(self) -> Path:
        return self.folder / "report"

    @property
    def package_dir(self) -> Path:
        return self.folder / "package"

    @property
    def corrections_dir(self) -> Path:
        return self.folder / "corrections"

    @property
    def corrections_path(self) -> Path:
        return self.corrections_dir / "corrections.json"

    def source_path(self, root: Path) -> Path:
        """What the job restores: the trimmed copy when a trim was asked, else the file under the root."""
        trim = self.folder / "input" / "trim.mkv"
        return trim if self.data.get("trim") else (Path(root) / self.data["source"]).resolve()

    def summary(self) -> dict:
        data, progress = self.data, self.progress
        state = data.get("state", "queued")
        return {"id": self.id, "source": data.get("source"), "preset": data.get("preset"), "trim": data.get("trim"),
                "state": state, "task": data.get("task", "restore"), "created": data.get("created"),
                "error": data.get("error") or progress.get("error"), "phase": progress.get("phase"),
                "stage": progress.get("stage"), "frames_done": progress.get("frames_done", 0),
                "frames_total": progress.get("frames_total"), "fps": progress.get("fps"),
                "eta_s": progress.get("eta_s"), "segments_done": progress.get("segments_done"),
                "segments_total": progress.get("segments_total"),
                "percent": _percent(progress, state),
                "output": data.get("output_name") if self.output_exists() else None,
                "report": (self.report_dir / "index.html").is_file(),
                "corrections_revision": self.corrections().get("revision", 0),
                "applied_revision": data.get("applied_revision"),
                "approved": read_json(self.folder / "approval.json"), "package": data.get("package")}

    def output_exists(self) -> bool:
        return bool(self.data.get("output_name")) and self.output.is_file()

    # --- corrections -------------------------------------------------------------------
    def corrections(self) -> dict:
        doc = read_json(self.corrections_path)
        return doc if isinstance(doc, dict) else corr.empty_document(self.id)

    def add_correction(self, item: dict, mask_png: bytes | None = None) -> dict:
        """Add one correction (a new revision); the mask is stored by its sha256 and never rewritten."""
        with locked(self.folder, "corrections"):
            doc = self.corrections()
            if mask_png is not None:
                digest = hashlib.sha256(mask_png).hexdigest()
                masks = self.corrections_dir / "masks"
                masks.mkdir(parents=True, exist_ok=True)
                target = masks / f"{digest}.png"
                if not target.exists():
                    tmp = masks / f".{digest}.{os.getpid()}.tmp"
                    tmp.write_bytes(mask_png)
                    os.replace(tmp, target)
                item = {**item, "mask": f"masks/{digest}.png", "mask_sha256": digest}
            revision = int(doc.get("revision", 0)) + 1
            item = {"id": f"c{revision:04d}-{uuid.uuid4().hex[:6]}", "when": now(), "revision": revision,
                    "active": True, **item}
            doc = {**doc, "revision": revision, "corrections": [*doc.get("corrections", []), item],
                   "history": [*doc.get("history", []), {"revision": revision, "action": "add", "id": item["id"],
                                                         "who": item.get("who"), "when": item["when"]}]}
            return self._save_corrections(doc)

    def remove_correction(self, cid: str, who: str, why: str = "") -> dict:
        """Withdraw a correction (kept in the history, marked inactive: nothing is ever erased)."""
        with locked(self.folder, "corrections"):
            doc = self.corrections()
            if not any(c["id"] == cid and c.get("active", True) for c in doc.get("corrections", [])):
                raise UserError(f"no active correction {cid}")
            revision = int(doc.get("revision", 0)) + 1
            items = [{**c, "active": False, "withdrawn": {"who": who, "when": now(), "why": why}}
                     if c["id"] == cid else c for c in doc["corrections"]]
            doc = {**doc, "revision": revision, "corrections": items,
                   "history": [*doc.get("history", []), {"revision": revision, "action": "withdraw", "id": cid,
                                                         "who": who, "when": now(), "why": why}]}
            return self._save_corrections(doc)

    def _save_corrections(self, doc: dict) -> dict:
        corr.check_document(doc)
        self.corrections_dir.mkdir(parents=True, exist_ok=True)
        write_json_durably(self.corrections_dir / f"rev-{doc['revision']:06d}.json", doc)
        write_json_durably(self.corrections_path, doc)
        return doc

    def face_tracks(self) -> list[dict]:
        """The face tracks the faces stage worked on (from the frames log): track, first and last frame."""
        tracks: dict[int, dict] = {}
        for index, face in self._logged_faces():
            entry = tracks.setdefault(int(face["track"]), {"track": int(face["track"]), "first": index, "last": index,
                                                           "frames": 0})
            entry["first"], entry["last"] = min(entry["first"], index), max(entry["last"], index)
            entry["frames"] += 1
        return [tracks[k] for k in sorted(tracks)]

    def _logged_faces(self):
        log = self.output.with_name(self.output.name + ".frames.jsonl")
        try:
            with open(log, encoding="utf-8") as fh:
                for line in fh:
                    entry = json.loads(line)
                    for face in (entry.get("notes") or {}).get("faces") or []:
                        if "track" in face and face.get("box"):
                            yield int(entry.get("index", -1)), face
        except (OSError, ValueError):
            return

    def face_boxes(self, track: int, first: int, last: int) -> dict[str, list]:
        """The box of face track ``track`` on each output frame in [first, last], from the frames log."""
        return {str(index): [round(float(v), 1) for v in face["box"][:4]] for index, face in self._logged_faces()
                if face["track"] == track and first <= index <= last}


def _percent(progress: dict, state: str) -> float:
    if state == "done":
        return 100.0
    total = progress.get("frames_total")
    return round(100.0 * progress.get("frames_done", 0) / total, 1) if total else 0.0


class JobStore:
    """All the jobs of a workspace."""

    def __init__(self, root: Path, workspace: Path):
        self.root = Path(root).resolve()
        self.workspace = Path(workspace).resolve()
        (self.workspace / "jobs").mkdir(parents=True, exist_ok=True)

    def create(self, source: str, preset: dict, trim: dict | None, who: str | None = None) -> Job:
        stem = re.sub(r"[^A-Za-z0-9_-]+", "-", Path(source).stem).strip("-")[:40] or "film"
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        folder = self.workspace / "jobs" / f"{stamp}-{stem}-{uuid.uuid4().hex[:4]}"
        folder.mkdir(parents=True)
        job = Job(folder)
        job.update(id=job.id, source=source, preset=preset["name"], preset_path=preset["path"], trim=trim,
                   created=now(), state="queued", task="restore", who=who, output_name=f"{stem}.restored.mkv",
                   queued_at=now())
        return job

    def get(self, job_id: str) -> Job:
        if not re.fullmatch(r"[A-Za-z0-9_-]+", job_id or ""):
            raise UserError(f"no job {job_id!r}")
        folder = self.workspace / "jobs" / job_id
        if not (folder / "job.json").is_file():
            raise UserError(f"no job {job_id!r}")
        return Job(folder)

    def all(self) -> list[Job]:
        folders = sorted((self.workspace / "jobs").iterdir(), reverse=True)
        return [Job(f) for f in folders if (f / "job.json").is_file()]

    def videos(self, limit: int = 2000, max_age: float = 10.0) -> list[str]:
        """Video files under the root (relative paths), the workspace and hidden folders left out; the walk is
        reused for ``max_age`` seconds (an archive's tree can be large, and every page load asks)."""
        import time

        cached = getattr(self, "_videos", None)
        if cached is not None and time.monotonic() - cached[0] < max_age:
            return cached[1]
        found = self._walk(limit)
        self._videos = (time.monotonic(), found)
        return found

    def _walk(self, limit: int) -> list[str]:
        found = []
        for folder, dirs, files in os.walk(self.root, followlinks=False):
            here = Path(folder)
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and (here / d).resolve() != self.workspace)
            for name in sorted(files):
                if Path(name).suffix.lower() in VIDEO_SUFFIXES and not name.startswith("."):
                    path = here / name
                    if path.resolve().is_relative_to(self.root):      # a link pointing out is not offered
                        found.append(str(path.relative_to(self.root)))
                        if len(found) >= limit:
                            return found
        return found
