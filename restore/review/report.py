"""The review report: one streaming pass over BEFORE and AFTER writes everything.

Per frame: the fidelity map and its regions, flicker, faces, stage timings (into
``metrics.csv`` as they come, and compact series for the page's charts). Every
Nth frame (by default one a second; and, per stretch of N frames, the worst frame above the threshold) is
kept as compressed images for the page's viewer; NIQE is computed on every 4Nth.
Only one frame pair and one candidate pair are held at a time, so memory does
not grow with the clip. The report is built in a temporary folder and renamed
into place, so a reader never sees half a report.
"""

from __future__ import annotations

import csv
import heapq
import json
import math
import os
import shutil
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import cv2
import numpy as np

from restore.errors import OutputError
from restore.review.align import Alignment, Pair, aligned_pairs, plan_alignment
from restore.review.faces import SAME_PERSON, FacePanel
from restore.review.fidelity import DEFAULT_THRESHOLD, assess, departure_map, heatmap_image
from restore.metrics import StaticFlickerRatio
from restore.review.metrics import MeanLumaStep, niqe, niqe_available
from restore.review.sidebyside import SideBySideWriter

ASSETS = ("index.html", "review.js", "review.css")
MAX_LISTED_INVENTIONS = 200
JPEG_QUALITY = 80
NIQE_MIN_SAMPLES = 12


@dataclass
class ReviewOptions:
    threshold: float = DEFAULT_THRESHOLD   # departure that marks an invention to check
    every: int | None = None               # stored frames, face detection without a sidecar: 1 per second unless given
    niqe_every: int | None = None          # NIQE costs ~0.3 s CPU per SD frame: 4 × every (≥ 12 samples) unless given
    frames: tuple[int, ...] = ()           # AFTER frame numbers to export as PNG pairs
    identity_threshold: float = SAME_PERSON
    max_frames: int | None = None
    video: bool = True
    compute_niqe: bool = True
    detect_faces: bool = True


@dataclass
class _Series:
    """What the page's charts draw: one value per AFTER frame (None where not measured)."""

    source: list = field(default_factory=list)
    fidelity: list = field(default_factory=list)
    p99: list = field(default_factory=list)
    flicker_before: list = field(default_factory=list)
    flicker_after: list = field(default_factory=list)
    faces: list = field(default_factory=list)
    identity: list = field(default_factory=list)
    niqe: list = field(default_factory=list)          # [frame, before, after] on sampled frames
    stages: dict = field(default_factory=dict)        # stage → seconds per frame


def _round(value, digits=4):
    return None if value is None or (isinstance(value, float) and not math.isfinite(value)) else round(value, digits)


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)


def _write_jpeg(path: Path, image: np.ndarray) -> None:
    cv2.imwrite(str(path), cv2.cvtColor(_to_uint8(image), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])


def _write_png(path: Path, image: np.ndarray) -> None:
    """Float RGB frames as 8-bit PNG; uint8 images (already BGR/BGRA) as they are."""
    if image.dtype != np.uint8:
        image = cv2.cvtColor(_to_uint8(image), cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(path), image, [cv2.IMWRITE_PNG_COMPRESSION, 6])


def _stage_names(alignment: Alignment, record: dict | None) -> list[str]:
    names = [t.get("stage") for t in (record or {}).get("stage_timings") or [] if t.get("stage")]
    if not names and alignment.frames_log is not None:
        with open(alignment.frames_log, encoding="utf-8") as fh:
            first = fh.readline()
        try:
            names = list((json.loads(first).get("notes") or {}).get("stage_seconds") or {})
        except json.JSONDecodeError:
            names = []
    return list(dict.fromkeys(names))


def _prepare_dir(out_dir: Path, inputs: list[Path]) -> Path:
    out_dir = out_dir.resolve()
    for path in inputs:
        if out_dir == path.resolve() or out_dir in path.resolve().parents:
            raise OutputError(f"report folder {out_dir} would hold an input ({path}): choose another folder")
    if out_dir.exists():
        if not out_dir.is_dir():
            raise OutputError(f"report folder {out_dir} is a file")
        if any(out_dir.iterdir()) and not (out_dir / "summary.json").is_file():
            raise OutputError(f"{out_dir} exists and is not a review report: refusing to replace it")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    if not os.access(out_dir.parent, os.W_OK):
        raise OutputError(f"cannot write into {out_dir.parent} (permissions)")
    tmp = out_dir.with_name(f".{out_dir.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "frames").mkdir(parents=True)
    return tmp


def _publish(tmp: Path, out_dir: Path) -> None:
    old = out_dir.with_name(f".{out_dir.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if out_dir.exists():
        os.replace(out_dir, old)
    os.replace(tmp, out_dir)
    shutil.rmtree(old, ignore_errors=True)


def _provenance_summary(after: Path, record: dict | None, provenance: dict | None) -> dict | None:
    """Models (with weights and corpus hashes), energy and signer, from the signed record when there is one."""
    body = None
    path = (provenance or {}).get("provenance") or after.with_name(after.name + ".provenance.json")
    try:
        with open(path, encoding="utf-8") as fh:
            body = json.load(fh)
    except (OSError, json.JSONDecodeError, TypeError):
        body = None
    if isinstance(body, dict) and isinstance(body.get("record"), dict):  # the sealed form: {"record", "record_sha256"}
        body = body["record"]
    body = body or record
    if not body:
        return None
    stages = [{"stage": s.get("name") or s.get("stage"), "params": s.get("params")} for s in body.get("stages") or []]
    return {"record": str(path) if body is not record else None,
            "tool": f"restore {body['restore_version']}" if body.get("restore_version") else None,
            "device": body.get("device"), "pipeline": body.get("pipeline"),
            "stages": stages, "models": body.get("models") or [], "energy": body.get("energy"),
            "signer": body.get("signer"), "c2pa": (provenance or {}).get("c2pa"),
            "started": body.get("started"), "finished": body.get("finished"),
            "source_sha256": (body.get("source") or {}).get("sha256") if isinstance(body.get("source"), dict) else None}


def _restore_seconds(record: dict | None) -> float | None:
    if not record or not record.get("started") or not record.get("finished"):
        return None
    from datetime import datetime

    try:
        return (datetime.fromisoformat(record["finished"]) - datetime.fromisoformat(record["started"])).total_seconds()
    except (TypeError, ValueError):
        return None


class _Report:
    """State of one pass; ``run`` drives it."""

    def __init__(self, before: Path, after: Path, tmp: Path, alignment: Alignment, options: ReviewOptions,
                 stage_names: list[str]):
        self.before, self.after, self.tmp = before, after, tmp
        self.alignment, self.options = alignment, options
        self.every = max(1, options.every or round(float(alignment.after.fps)))
        self.series = _Series(stages={name: [] for name in stage_names})
        self.stored: list[dict] = []
        self.inventions: list = []          # heap of (severity, frame, entry): the worst are kept
        self.frames_above = 0
        self.flicker_before, self.flicker_after = MeanLumaStep(), MeanLumaStep()
        self.flicker_index = StaticFlickerRatio()  # change where the source is static, relative to the source's
        self._last_source, self._source_flicker = -1, None
        self.candidate: tuple | None = None  # (severity, pair, departure, regions) of this stretch's worst
        self.panel = FacePanel(tmp, alignment, self.every, options.identity_threshold, options.detect_faces)
        self.pairs_written: list[int] = []
        self.video = (SideBySideWriter(tmp / "side_by_side.mp4", alignment.display_size, alignment.after.fps)
                      if options.video else None)
        self.niqe_on = options.compute_niqe and niqe_available()
        self.niqe_every = max(1, options.niqe_every or self._default_niqe_every(alignment))

    def _default_niqe_every(self, alignment) -> int:
        """Every 4 × ``every`` frames, but at least NIQE_MIN_SAMPLES over a short clip: one frame (the first,
        where temporal stages are still warming up) is not a measurement of the clip."""
        every = 4 * self.every
        duration = alignment.after_duration
        if duration:
            frames = int(duration * float(alignment.after.fps))
            every = min(every, max(1, frames // NIQE_MIN_SAMPLES))
        return every

    def _store(self, pair: Pair, departure: np.ndarray, regions: list[dict], reason: str) -> None:
        base = f"frames/{pair.after_index:06d}"
        _write_jpeg(self.tmp / f"{base}_before.jpg", pair.before)
        _write_jpeg(self.tmp / f"{base}_after.jpg", pair.after)
        _write_png(self.tmp / f"{base}_map.png", heatmap_image(departure, self.options.threshold))
        self.stored.append({"frame": pair.after_index, "source": pair.source_index, "reason": reason,
                            "before": f"{base}_before.jpg", "after": f"{base}_after.jpg", "map": f"{base}_map.png",
                            "regions": regions})

    def _flush_candidate(self) -> None:
        if self.candidate is not None:
            _, _, pair, departure, regions = self.candidate
            self._store(pair, departure, regions, "invention")
            self.candidate = None

    def step(self, pair: Pair, csv_out) -> None:
        opts, s = self.options, self.series
        departure = departure_map(pair.reference, pair.after_aligned)
        fid = assess(departure, opts.threshold)
        regions = [r.as_dict() for r in fid.regions]
        if pair.source_index != self._last_source:
            self._source_flicker = self.flicker_before(pair.before)
            self._last_source = pair.source_index
        flicker_after = self.flicker_after(pair.after_aligned)
        self.flicker_index.add(pair.reference, pair.after_aligned)
        sampled = pair.after_index % self.every == 0
        niqe_pair = ((niqe(pair.before), niqe(pair.after_aligned))
                     if self.niqe_on and pair.after_index % self.niqe_every == 0 else (None, None))
        faces = self.panel.add(pair)
        identities = [f["identity"] for f in faces if f.get("identity") is not None]
        stage_seconds = (pair.log.get("notes") or {}).get("stage_seconds") or {}

        s.source.append(pair.source_index)
        s.fidelity.append(_round(fid.score))
        s.p99.append(_round(fid.p99))
        s.flicker_before.append(_round(self._source_flicker, 3))
        s.flicker_after.append(_round(flicker_after, 3))
        s.faces.append(len(faces))
        s.identity.append(_round(min(identities)) if identities else None)
        if niqe_pair != (None, None):
            s.niqe.append([pair.after_index, _round(niqe_pair[0], 3), _round(niqe_pair[1], 3)])
        for name, values in s.stages.items():
            values.append(_round(stage_seconds.get(name), 5))

        csv_out.writerow([pair.after_index, pair.source_index, f"{pair.pts.numerator}/{pair.pts.denominator}",
                          _round(fid.score), _round(fid.p99), _round(fid.area_above, 5), len(regions),
                          _round(self._source_flicker, 3), _round(flicker_after, 3),
                          _round(niqe_pair[0], 3), _round(niqe_pair[1], 3), len(faces),
                          _round(min(identities)) if identities else None]
                         + [_round(stage_seconds.get(name), 5) for name in s.stages])

        if regions:
            self.frames_above += 1
            severity = sum(r["area"] * r["mean"] for r in regions)
            entry = {"frame": pair.after_index, "source": pair.source_index, "severity": round(severity, 6),
                     "regions": regions}
            item = (severity, pair.after_index, entry)
            if len(self.inventions) < MAX_LISTED_INVENTIONS:
                heapq.heappush(self.inventions, item)
            else:
                heapq.heappushpop(self.inventions, item)
            if not sampled and (self.candidate is None or severity > self.candidate[0]):
                self.candidate = (severity, pair.after_index, pair, departure, regions)
        if sampled:
            self._store(pair, departure, regions, "sample")
        if (pair.after_index + 1) % self.every == 0:
            self._flush_candidate()
        if pair.after_index in opts.frames:
            self._write_pair(pair)
        if self.video is not None:
            self.video.write(pair.before, pair.after)

    def _write_pair(self, pair: Pair) -> None:
        folder = self.tmp / "pairs"
        folder.mkdir(exist_ok=True)
        _write_png(folder / f"frame_{pair.after_index:06d}_before.png", pair.before)
        _write_png(folder / f"frame_{pair.after_index:06d}_after.png", pair.after)
        self.pairs_written.append(pair.after_index)


CSV_COLUMNS = ["frame", "source_frame", "pts", "fidelity", "departure_p99", "area_above_threshold", "regions",
               "flicker_before", "flicker_after", "niqe_before", "niqe_after", "faces", "identity_min"]


def build_report(before: Path, after: Path, out_dir: Path, *, options: ReviewOptions | None = None,
                 record: dict | None = None, provenance: dict | None = None,
                 frames_log: Path | None = None, extra: dict | None = None,
                 attach: dict[str, Path] | None = None) -> Path:
    """Compare AFTER with BEFORE and write the review report into ``out_dir``; returns its index.html."""
    started = time.perf_counter()
    options = options or ReviewOptions()
    before, after, out_dir = Path(before), Path(after), Path(out_dir)
    if frames_log is None:
        logged = (record or {}).get("frames_log")
        frames_log = Path(logged) if logged else after.with_name(after.name + ".frames.jsonl")
    alignment = plan_alignment(before, after, frames_log, trimmed=bool((record or {}).get("trim")))
    tmp = _prepare_dir(out_dir, [before, after])
    try:
        report = _Report(before, after, tmp, alignment, options, _stage_names(alignment, record))
        with open(tmp / "metrics.csv", "w", newline="", encoding="utf-8") as fh:
            out = csv.writer(fh)
            out.writerow(CSV_COLUMNS + [f"seconds_{name}" for name in report.series.stages])
            for pair in aligned_pairs(before, after, alignment, max_frames=options.max_frames):
                report.step(pair, out)
        report._flush_candidate()
        if report.video is not None:
            report.video.finish()
        summary = _summary(report, before, after, record, provenance, time.perf_counter() - started)
        summary.update(extra or {})          # e.g. "preview": which source frames a --preview restored
        _write_page(tmp, report, summary)
        summary["report_bytes"] = sum(p.stat().st_size for p in tmp.rglob("*") if p.is_file())
        if alignment.after_duration:
            summary["report_megabytes_per_minute"] = round(
                summary["report_bytes"] / 1e6 / (summary["frames"] / float(alignment.after.fps) / 60), 2)
        with open(tmp / "summary.json", "w", encoding="utf-8") as fh:
            json.dump(summary, fh, indent=2, default=str)
        for name, folder in (attach or {}).items():      # folders that belong to the report (preview frames)
            shutil.copytree(folder, tmp / name)
    except BaseException:
        if "report" in locals() and report.video is not None:
            report.video.abort()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _publish(tmp, out_dir)
    return out_dir / "index.html"


def _summary(report: _Report, before: Path, after: Path, record: dict | None, provenance: dict | None,
             seconds: float) -> dict:
    s, opts = report.series, report.options
    fid = [v for v in s.fidelity if v is not None]
    worst = int(np.argmin(s.fidelity)) if fid else None
    inventions = [entry for _, _, entry in sorted(report.inventions, reverse=True)]

    def mean(values):
        values = [v for v in values if v is not None]
        return _round(float(np.mean(values))) if values else None

    frames = len(s.fidelity)
    missing = sorted(f for f in opts.frames if f not in report.pairs_written)
    warnings = []
    if missing:
        warnings.append(f"frames not in AFTER (it has {frames}): {', '.join(map(str, missing))}")
    if opts.compute_niqe and not report.niqe_on:
        warnings.append("NIQE not computed: basicsr's NIQE could not be imported")
    provenance_summary = _provenance_summary(after, record, provenance)
    restore_seconds = _restore_seconds(record or provenance_summary)
    return {
        "before": str(before), "after": str(after), "alignment": report.alignment.describe(),
        "frames": frames, "source_frames": (s.source[-1] + 1) if s.source else 0,
        "threshold": opts.threshold, "every": report.every,
        "fidelity": {"mean": mean(s.fidelity), "min": min(fid) if fid else None, "worst_frame": worst,
                     "method": "1 − SSIM contrast-structure term on luma after a Gaussian denoise (σ 1.6 px), "
                               "in BEFORE's geometry"},
        "inventions": {"frames_above_threshold": report.frames_above, "listed": len(inventions),
                       "list": inventions},
        "flicker": {"before_mean": mean(s.flicker_before), "after_mean": mean(s.flicker_after),
                    "unit": "mean-luma step between frames, % of full scale",
                    "index": _round(report.flicker_index.index, 4),
                    "index_method": "restore.metrics.StaticFlickerRatio: AFTER's change where the source is static, "
                                    "relative to the source's (1 = as steady as the source)"},
        "niqe": {"every": report.niqe_every, "computed": bool(s.niqe),
                 "before_mean": mean([v[1] for v in s.niqe]), "after_mean": mean([v[2] for v in s.niqe])},
        "faces": {"source": report.panel.source, "identity_threshold": opts.identity_threshold,
                  "tracks": [{k: v for k, v in t.items() if k not in ("points", "crops")}
                             for t in report.panel.summary()]},
        "stored_frames": len(report.stored), "pairs": [f"pairs/frame_{f:06d}_{k}.png" for f in report.pairs_written
                                                       for k in ("before", "after")],
        "side_by_side": "side_by_side.mp4" if report.video is not None else None,
        "provenance": provenance_summary,
        "timings": {"report_seconds": round(seconds, 2), "restore_seconds": restore_seconds},
        "warnings": warnings,
    }


def _write_page(tmp: Path, report: _Report, summary: dict) -> None:
    assets = resources.files("restore.review") / "assets"
    for name in ASSETS:
        (tmp / name).write_bytes((assets / name).read_bytes())
    data = {"summary": summary, "series": report.series.__dict__, "stored": report.stored,
            "faces": report.panel.summary(), "display": list(report.alignment.display_size),
            "before_size": [report.alignment.before.width, report.alignment.before.height],
            "after_size": [report.alignment.after.width, report.alignment.after.height]}
    text = json.dumps(data, separators=(",", ":"), default=str, allow_nan=False)
    # the page is opened from file://, where fetch() of a JSON file is refused: a script tag is not
    (tmp / "data.js").write_text("window.REVIEW = " + text.replace("</", "<\\/") + ";\n", encoding="utf-8")


def write_report(source: Path, output: Path, report_dir: Path, *, record: dict | None = None,
                 provenance: dict | None = None, options: ReviewOptions | None = None) -> Path:
    """``restore run --report DIR``: the review of a finished run (reads its per-frame sidecar)."""
    frames_log = (record or {}).get("frames_log")
    return build_report(source, output, report_dir, options=options, record=record, provenance=provenance,
                        frames_log=Path(frames_log) if frames_log else None)
