"""Crash-safe restoration: a file is restored in segments of frames, each committed on its own.

Every segment is decoded with the look-behind and look-ahead its pipeline needs (the sum
of the stages' temporal radii, plus ``warmup`` frames for stages with recursive state),
run through the pipeline, and only its own frames are kept: a frame near a border sees
the same neighbours as in a whole-file run, so for stages that read a window of frames
borders are invisible, bit for bit. A stage with recursive state (a tracker, an IIR filter)
has its whole past in that state: its warmup brings a segment's output within a few levels
of the whole-file run's, not to the same bits (README, "Resume after any crash"). The kept frames are
written losslessly (FFV1, in the exact RGB or native samples the final encoder would have
received) into ``.OUTPUT.work/``; a segment counts as done only once the journal lists it
with its sha256, and the journal is written after the segment file is on disk. After
``kill -9``, power loss or a reboot, the same command re-checks the committed segments
and continues with the rest. The final file is then assembled by streaming the
concatenated segments into the same writer a whole-file run uses (sound, subtitles,
timecode and tags mapped from the source), so its decoded frames are those of the segments.

Work folder layout: ``lock`` (flock: one writer), ``journal.json``, ``seg-NNNNNN.mkv``,
``segments.ffconcat`` while assembling. It is removed once the output is finalized.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from restore import __version__
from restore.batch.durable import fsync_path, write_json_durably
from restore.clock import utc_now
from restore.lock import WorkLock, output_lock
from restore.errors import InputError, OutputError, UserError
from restore.frame import VideoFormat
from restore.job import (JobOptions, JobResult, RunFacts, _stage_options, _start_energy_meter, check_source,
                         finish_job, frames_log_path, inspect_input, is_native, open_output_writer, output_settings)
from restore.media import pixfmt
from restore.media.decode import VideoReader
from restore.media.encode import EncodeSettings, VideoWriter, check_output_path, publish_output, rgb_pipe_format
from restore.media.framedump import FrameLog
from restore.media.probe import main_video_stream
from restore.pipeline.runner import Pipeline, resolve_device
from restore.pipeline.spec import PipelineSpec
from restore.provenance.record import sha256_file

# what the error on a full disk says to do
SEGMENTS_KEPT = "free some space and run the same command again (committed segments are kept)"
DEFAULT_SEGMENT_FRAMES = 250        # 10 s of PAL: minutes of SR work per segment, little lost to a crash
JOURNAL_FORMAT = "restore-segment-journal"


class WorkMismatchError(UserError):
    """The work folder was started for another source, pipeline or setting."""


@dataclass(frozen=True)
class Segment:
    index: int
    start: int      # first input frame kept
    count: int      # input frames kept

    @property
    def end(self) -> int:
        return self.start + self.count


def plan_segments(total_frames: int, segment_frames: int) -> list[Segment]:
    if segment_frames < 1:
        raise ValueError("segment_frames must be at least 1")
    return [Segment(i, start, min(segment_frames, total_frames - start))
            for i, start in enumerate(range(0, total_frames, segment_frames))]


def pipeline_margins(pipeline: Pipeline) -> tuple[int, int]:
    """(look-behind, look-ahead) in input frames that make segment borders invisible.

    Radii add up: stage 2 needs ``r2`` correct frames of stage 1, each of which needed
    ``r1`` more. A stage after a frame-rate doubler counts its radius in its own (denser)
    frames, so summing over-estimates there, which is safe.
    """
    behind = sum(stage.radius + stage.warmup for stage in pipeline.stages)
    ahead = sum(stage.radius for stage in pipeline.stages)
    return behind, ahead


def segment_name(index: int) -> str:
    return f"seg-{index:06d}.mkv"     # plain characters: the concat demuxer's safe mode accepts them


@dataclass
class SegmentTask:
    """Everything a worker (this process, a pool process, a Ray task) needs: picklable, no callables."""

    job_id: str
    source: str
    work_dir: str
    segment: Segment
    spec: PipelineSpec
    source_format: VideoFormat
    total_frames: int
    behind: int
    ahead: int
    device: str
    batch_size: int
    seed: int
    stage_options: dict
    pipe_pix: str          # raw layout the final encoder reads: rgb24 / rgb48le, or native planar samples
    segment_pix: str       # FFV1 pixel format of the segment file (lossless for pipe_pix)
    native: bool
    start_pts: float | None = None   # stored time of the first decoded frame: seek there, not decode from 0
    corrections: list[dict] | None = None   # the operator's corrections on this segment's output frames
    corrections_base: str | None = None     # the folder their masks are relative to


@dataclass
class SegmentResult:
    job_id: str
    index: int
    file: str
    sha256: str
    frames_in: int          # frames decoded, overlap included
    frames_out: int         # frames kept
    seconds: float
    energy: dict | None
    stage_timings: list[dict] = field(default_factory=list)
    stages: list[dict] = field(default_factory=list)
    frames_log: str | None = None     # the segment's part of OUTPUT.frames.jsonl
    corrections: str | None = None    # digest of the corrections applied (restore.corrections.digest)

    def journal_entry(self) -> dict:
        entry = {"file": self.file, "sha256": self.sha256, "frames_in": self.frames_in,
                 "frames_out": self.frames_out, "seconds": round(self.seconds, 3), "energy": self.energy,
                 "stage_timings": self.stage_timings, "frames_log": self.frames_log}
        if self.corrections is not None:
            entry["corrections"] = self.corrections
        return entry


def process_segment(task: SegmentTask, progress: Callable[[int], None] | None = None) -> SegmentResult:
    """Restore one segment into its own lossless file (written under a temp name, renamed when complete)."""
    t0 = time.perf_counter()
    meter = _start_energy_meter(task.device)
    seg = task.segment
    lead = min(task.behind, seg.start)
    tail = min(task.ahead, task.total_frames - seg.end)
    pipeline = Pipeline(task.spec, task.source_format, device=task.device, batch_size=task.batch_size,
                        seed=task.seed, options=dict(task.stage_options))
    ratio = pipeline.frame_ratio
    skip, keep = lead * ratio, seg.count * ratio
    target = Path(task.work_dir) / segment_name(seg.index)
    reader = VideoReader(task.source, task.source_format, mode="native" if task.native else "rgb",
                         start_frame=seg.start - lead, start_pts=task.start_pts, max_frames=lead + seg.count + tail)
    log = None
    try:
        fixer = None
        if task.corrections:
            from restore.corrections import Applier

            fixer = Applier(task.corrections, Path(task.corrections_base), pipeline.output_format.width,
                            pipeline.output_format.height, ratio)
        with VideoWriter(target, pipeline.output_format, EncodeSettings("matroska", "ffv1", task.segment_pix),
                         input_pix=task.pipe_pix, overwrite=True, full_disk_advice=SEGMENTS_KEPT) as writer, \
                contextlib.ExitStack() as stack:
            log = None if task.native else stack.enter_context(FrameLog(target.with_suffix(".frames.jsonl")))
            pipeline.setup()
            produced = 0
            frames = iter(reader)
            # the operator's corrections: a stage strength changed on a shot, then the finished frames
            stream = fixer.run(pipeline, frames, lambda spec: Pipeline(
                spec, task.source_format, device=task.device, batch_size=task.batch_size, seed=task.seed,
                options=dict(task.stage_options))) if fixer is not None else pipeline.run(frames)
            for frame in stream:
                if skip <= produced < skip + keep:
                    if fixer is not None:      # the last step, after every stage
                        frame = fixer.apply(frame)
                    writer.write(frame)
                    if log is not None:
                        log.write(frame)
                    if progress is not None:
                        progress(produced - skip + 1)
                produced += 1
            wanted = lead + seg.count + tail
            if reader.frames_read != wanted:
                raise InputError(f"{task.source}: decoded {reader.frames_read} of {wanted} frames from frame "
                                 f"{seg.start - lead}: the input is truncated or damaged")
            writer.finish(keep)
            if log is not None:
                log.commit()
    finally:
        reader.close()
        pipeline.close()
    fsync_path(target)
    energy = meter.stop().as_dict()
    return SegmentResult(job_id=task.job_id, index=seg.index, file=target.name, sha256=sha256_file(target),
                         frames_in=reader.frames_read, frames_out=keep, seconds=time.perf_counter() - t0,
                         energy=energy, stage_timings=[t.as_dict() for t in pipeline.timings],
                         stages=pipeline.describe(), frames_log=log.path.name if log is not None else None,
                         corrections=_corrections_digest(task.corrections))


def _corrections_digest(items: list[dict] | None) -> str | None:
    if not items:
        return None
    from restore.corrections import digest

    return digest(items)


# containers whose index lets ffmpeg land on a keyframe at or before a time (Matroska cues, MP4/MOV
# sample tables); transport and program streams seek by bisecting bytes and may land after it
SEEKABLE_CONTAINERS = {"matroska", "webm", "mov", "mp4", "m4a", "3gp", "3g2", "mj2"}


def frame_times(path: Path, expected: int, container: str | None = None) -> list[float] | None:
    """Each frame's stored presentation time, from the packet index (no decoding); None when the
    container's seeking is not exact enough or the times cannot name frames unambiguously (missing or
    repeated): segments then decode from the top of the file."""
    if container is not None and not set(container.split(",")) & SEEKABLE_CONTAINERS:
        return None
    res = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time",
                          "-of", "csv=p=0", str(path)], capture_output=True, text=True)
    times = []
    for line in res.stdout.splitlines():
        value = line.split(",")[0].strip()
        if not value:
            continue
        try:
            times.append(float(value))
        except ValueError:        # N/A: a packet without a timestamp
            return None
    times.sort()
    if res.returncode != 0 or len(times) != expected or any(b <= a for a, b in zip(times, times[1:])):
        return None
    return times


def _quick_fingerprint(path: Path) -> str:
    """Size, mtime and the first and last MiB: catches a replaced source without reading hours of video."""
    st = path.stat()
    digest = hashlib.sha256(f"{st.st_size}:{st.st_mtime_ns}".encode())
    with open(path, "rb") as fh:
        digest.update(fh.read(1 << 20))
        if st.st_size > 2 << 20:
            fh.seek(-(1 << 20), 2)
            digest.update(fh.read())
    return digest.hexdigest()


def sum_energy(parts: list[dict | None]) -> dict | None:
    """The job's energy from its segments' and the assembly's records. Not a plain sum: segments that ran
    at the same time (``--workers N``) read the same machine counters, which ``restore.energy.combine``
    counts once over the union of their spans (see the comment there)."""
    from restore.energy import combine

    return combine(parts)


def per_restored_minute(energy: dict | None, frames_out: int, fmt: VideoFormat) -> dict | None:
    """Energy per minute of restored picture: what an archive budgets a digitisation project by."""
    if not energy or not frames_out:
        return energy
    minutes = float(frames_out / fmt.fps) / 60.0
    return {**energy, "restored_minutes": minutes, "kwh_per_minute": energy["kwh"] / minutes,
            "gco2e_per_minute": energy["gco2e"] / minutes}


def _sum_timings(entries: list[list[dict]]) -> list[dict]:
    totals: dict[str, dict] = {}
    for timings in entries:
        for t in timings:
            acc = totals.setdefault(t["stage"], {"stage": t["stage"], "seconds": 0.0, "frames_in": 0,
                                                 "frames_out": 0})
            for key in ("seconds", "frames_in", "frames_out"):
                acc[key] += t[key]
    for acc in totals.values():
        acc["seconds"] = round(acc["seconds"], 4)
        # frames_out includes the overlap frames each segment re-computes: the honest cost per frame
        acc["seconds_per_frame"] = round(acc["seconds"] / acc["frames_out"], 5) if acc["frames_out"] else None
    return list(totals.values())


class SegmentedJob:
    """One file's segments: plan, journal, commit, assembly. Only the process holding the lock writes."""

    def __init__(self, source: Path, output: Path, spec: PipelineSpec, options: JobOptions | None = None, *,
                 segment_frames: int = DEFAULT_SEGMENT_FRAMES, job_id: str | None = None):
        self.options = options = options or JobOptions()
        self.source, self.output, self.spec = Path(source), Path(output), spec
        from restore.media import codecs
        from restore.errors import UserError

        box = codecs.container_for_extension(self.output.suffix)
        if (box is not None and box.sequence) or options.sequence is not None:
            raise UserError("resumable runs (--resume, restore batch) take video files in and out, not image "
                            "sequences: restore the sequence with a plain restore run")
        self.job_id = job_id or self.output.name
        self.segment_frames = segment_frames
        self.started = utc_now()
        self.t_start = time.perf_counter()
        self.work_dir = self.output.parent / f".{self.output.name}.work"
        self.journal_path = self.work_dir / "journal.json"
        self.lock = WorkLock(self.work_dir / "lock", f"the output {self.output}")
        self.output_lock = output_lock(self.output)
        self.journal: dict = {}
        spec.check_resize_options(options.scale, options.size)
        if options.keep_frames is not None:
            raise UserError("--keep-frames is not available for segmented (resumable) runs")
        if options.start is not None or options.duration is not None or options.frames is not None:
            raise UserError("--start/--duration/--frames are not available for segmented (resumable) runs")

        self.corrections = None      # the operator's active corrections, read once: what this run applies
        if options.corrections is not None:
            from restore.corrections import active, load_document

            self.corrections = active(load_document(options.corrections))
        self.report, fmt = inspect_input(self.source)
        self.notes: list[str] = []
        self.warnings: list[str] = []
        self.source_format, timing, expected = check_source(self.source, main_video_stream(self.report), fmt,
                                                            self.notes, fill_gaps=options.fill_gaps)
        if timing.conform is not None:
            what = "frames to fill" if timing.gaps else "variable frame rate"
            raise InputError(f"{self.source}: {what}: segments need a constant rate with every frame present; "
                             "run it without --resume, or conform it first")
        if not expected or expected < 0:
            raise InputError(f"{self.source}: no video frame could be counted")
        self.frames_in = expected
        self.device = resolve_device(options.device)
        pipeline = Pipeline(spec, self.source_format, device=self.device, batch_size=options.batch_size,
                            seed=options.seed, options=_stage_options(options))
        try:
            self.settings, self.output_format = output_settings(self.output, self.source_format,
                                                                pipeline.output_format, spec, options, self.notes)
            self.frame_ratio = pipeline.frame_ratio
            self.behind, self.ahead = pipeline_margins(pipeline)
            self.native = is_native(pipeline, self.source_format, self.output_format)
        finally:
            pipeline.close()
        if self.native and self.corrections:
            raise UserError("corrections need a pipeline with stages: the pass-through pipeline restores nothing "
                            "to undo")
        if self.native:
            self.pipe_pix = pixfmt.planar_equivalent(self.source_format.pix_fmt, self.source_format.bit_depth)
            self.segment_pix = self.pipe_pix
        else:
            self.pipe_pix = rgb_pipe_format(self.settings, self.output_format)
            self.segment_pix = "gbrp" if self.pipe_pix == "rgb24" else "gbrp16le"
        self.segments = plan_segments(self.frames_in, segment_frames)
        times = frame_times(self.source, self.frames_in, self.report.get("container") or "") \
            if len(self.segments) > 1 else None
        self.start_pts = {seg.index: times[seg.start - min(self.behind, seg.start)]
                          for seg in self.segments if seg.start} if times else {}

    # --- identity of the work ---------------------------------------------------------
    def fingerprint(self) -> dict:
        spec_hash = hashlib.sha256(self.spec.text.encode()).hexdigest()
        return {"restore_version": __version__, "source": str(self.source.resolve()),
                "source_quick_sha256": _quick_fingerprint(self.source), "pipeline_sha256": spec_hash,
                "device": self.device, "batch_size": self.options.batch_size, "seed": self.options.seed,
                "stage_options": {k: list(v) if isinstance(v, tuple) else v
                                  for k, v in _stage_options(self.options).items()},
                "frames_in": self.frames_in, "segment_frames": self.segment_frames,
                "behind": self.behind, "ahead": self.ahead, "pipe_pix": self.pipe_pix,
                "segment_pix": self.segment_pix}

    # --- lifecycle --------------------------------------------------------------------
    def open(self) -> list[SegmentTask]:
        """Take the locks, check or start the journal, and return the segments still to do."""
        journal = self._read_journal() if self.journal_path.exists() else {}
        ours = journal.get("assembled", False) or journal.get("replaces_output", False)   # we wrote that output
        if not (ours and self.output.exists()):
            check_output_path(self.output, [self.source], self.options.overwrite)
        self.output_lock.acquire()
        try:
            self._make_work_dir()
            self.lock.acquire()
        except BaseException:
            self.output_lock.release()
            raise
        try:
            return self._open_locked()
        except BaseException:
            self.close()
            raise

    def _make_work_dir(self) -> None:
        """The work folder, a real folder beside the output: a symlink planted under its name would send
        segments (and their deletion) anywhere the link points, outside the output root."""
        try:
            self.work_dir.mkdir(exist_ok=True)
        except FileExistsError:
            pass
        except OSError as exc:
            raise OutputError(f"cannot create the work folder {self.work_dir}: {exc.strerror}") from None
        if self.work_dir.is_symlink() or not self.work_dir.is_dir() or \
                self.work_dir.resolve().parent != self.output.parent.resolve():
            raise OutputError(f"{self.work_dir} is not a plain folder beside the output (a symbolic link?): "
                              "refusing to write through it; remove it and run again")

    def _open_locked(self) -> list[SegmentTask]:
        fingerprint = self.fingerprint()
        if self.journal_path.exists():
            self.journal = self._read_journal()
            old = self.journal.get("fingerprint", {})
            changed = sorted(k for k in set(old) | set(fingerprint) if old.get(k) != fingerprint.get(k))
            if changed:
                raise WorkMismatchError(f"{self.work_dir} holds work for a different run ({', '.join(changed)} "
                                        "changed): remove that folder to start again")
        else:
            self.journal = {"format": JOURNAL_FORMAT, "version": 1, "fingerprint": fingerprint,
                            "segments": {}, "stages": None}
            write_json_durably(self.journal_path, self.journal)
        self._remove_leftovers()
        return [self._task(seg) for seg in self.segments if not self._committed(seg)]

    def _read_journal(self) -> dict:
        import json

        try:
            data = json.loads(self.journal_path.read_text())
        except (OSError, ValueError) as exc:
            raise WorkMismatchError(f"{self.journal_path} is unreadable ({exc}): remove {self.work_dir} "
                                    "to start again") from None
        if not isinstance(data, dict) or data.get("format") != JOURNAL_FORMAT:
            raise WorkMismatchError(f"{self.journal_path} is not a restore segment journal")
        return data

    def _remove_leftovers(self) -> None:
        """Temp files of a killed run: segment partials, and our final output's partials."""
        for path in self.work_dir.glob(".seg-*.partial*"):
            path.unlink(missing_ok=True)
        for path in self.work_dir.glob("seg-*"):
            if str(int(path.name[4:10])) not in self.journal["segments"]:
                path.unlink(missing_ok=True)     # renamed but never journalled: redo it
        stem, suffix = self.output.stem, self.output.suffix
        for path in self.output.parent.glob(f".{stem}.partial-*{suffix}"):
            path.unlink(missing_ok=True)

    def _committed(self, seg: Segment) -> bool:
        entry = self.journal["segments"].get(str(seg.index))
        if entry is None:
            return False
        path = self.work_dir / entry["file"]
        log = entry.get("frames_log")
        if entry.get("corrections") != _corrections_digest(self._segment_corrections(seg)):
            # the operator changed a correction on this segment's frames: redo it, and the output with it
            del self.journal["segments"][str(seg.index)]
            if self.journal.get("assembled") and self.output.exists():
                self.journal["replaces_output"] = True   # our own earlier output: assembly writes over it
            self.journal["assembled"] = False
            write_json_durably(self.journal_path, self.journal)
            path.unlink(missing_ok=True)
            return False
        if path.is_file() and sha256_file(path) == entry["sha256"] and (not log or (self.work_dir / log).is_file()):
            return True
        # a committed segment that no longer matches its checksum (disk damage, tampering): redo it
        del self.journal["segments"][str(seg.index)]
        write_json_durably(self.journal_path, self.journal)
        path.unlink(missing_ok=True)
        return False

    def _task(self, seg: Segment) -> SegmentTask:
        return SegmentTask(job_id=self.job_id, source=str(self.source), work_dir=str(self.work_dir), segment=seg,
                           spec=self.spec, source_format=self.source_format, total_frames=self.frames_in,
                           behind=self.behind, ahead=self.ahead, device=self.device,
                           batch_size=self.options.batch_size, seed=self.options.seed,
                           stage_options=_stage_options(self.options), pipe_pix=self.pipe_pix,
                           segment_pix=self.segment_pix, native=self.native,
                           start_pts=self.start_pts.get(seg.index), corrections=self._segment_corrections(seg),
                           corrections_base=str(Path(self.options.corrections).parent)
                           if self.options.corrections is not None else None)

    def _segment_corrections(self, seg: Segment) -> list[dict] | None:
        """The corrections on this segment's output frames (None when there are none)."""
        if not self.corrections:
            return None
        from restore.corrections import APPLIED, overlapping

        found = [c for c in overlapping(self.corrections, seg.start * self.frame_ratio, seg.end * self.frame_ratio - 1)
                 if c["kind"] in APPLIED]
        return found or None

    def commit(self, result: SegmentResult) -> None:
        path = self.work_dir / result.file
        if sha256_file(path) != result.sha256:
            raise OutputError(f"segment {result.index} of {self.output.name} changed on disk after it was written")
        self.journal["segments"][str(result.index)] = result.journal_entry()
        if self.journal.get("stages") is None:
            self.journal["stages"] = result.stages
        write_json_durably(self.journal_path, self.journal)

    @property
    def frames_done(self) -> int:
        return sum(e["frames_out"] for e in self.journal.get("segments", {}).values())

    @property
    def frames_out(self) -> int:
        return self.frames_in * self.frame_ratio

    @property
    def complete(self) -> bool:
        return len(self.journal.get("segments", {})) == len(self.segments)

    def assemble(self, progress: Callable[[dict], None] | None = None) -> JobResult:
        """Stream the committed segments, in order, into the final writer; then provenance."""
        if not self.complete:
            raise RuntimeError(f"{self.output.name}: {len(self.segments) - len(self.journal['segments'])} "
                               "segments are not committed yet")
        meter = _start_energy_meter(self.device)
        entries = [self.journal["segments"][str(seg.index)] for seg in self.segments]
        # the final file stays under its temporary name until its record is embedded and signed
        staged = self._write_output(progress)
        companions = []
        try:
            companions += self._write_frames_log(entries)
            result = self._finish(entries, meter, staged)
            publish_output(staged, self.output, self.options.overwrite or self._replaces_own_output(),
                           companions + (result.provenance or {}).get("pending", []))
        except BaseException:
            staged.unlink(missing_ok=True)
            for tmp, _final in companions:
                tmp.unlink(missing_ok=True)
            raise
        fsync_path(self.output)
        fsync_path(self.output.parent)
        if self.options.keep_work:
            # kept for the operator's corrections: a later run redoes only the segments they touch
            self.journal["assembled"] = True
            self.journal.pop("replaces_output", None)
            write_json_durably(self.journal_path, self.journal)
        else:
            shutil.rmtree(self.work_dir, ignore_errors=True)
        return result

    def _replaces_own_output(self) -> bool:
        """The output is this work folder's own earlier assembly (a re-run after corrections)."""
        return bool(self.journal.get("assembled") or self.journal.get("replaces_output"))

    def _finish(self, entries: list[dict], meter, staged: Path) -> JobResult:
        assembly = meter.stop().as_dict()
        energy = per_restored_minute(sum_energy([e.get("energy") for e in entries] + [assembly]),
                                     self.frames_out, self.output_format)
        timings = _sum_timings([e.get("stage_timings", []) for e in entries])
        notes = self.notes + [f"restored in {len(self.segments)} segments of up to {self.segment_frames} frames "
                              f"(overlap {self.behind} behind, {self.ahead} ahead), resumable"]
        return finish_job(RunFacts(
            source=self.source, output=self.output, spec=self.spec, options=self.options,
            stages=self.journal.get("stages") or [], device=self.device, started=self.started,
            t_start=self.t_start, frames_in=self.frames_in, frames_out=self.frames_out, report=self.report,
            src_fmt=self.source_format, out_fmt=self.output_format, settings=self.settings, notes=notes,
            stage_timings=timings, energy=energy,
            frames_log=frames_log_path(self.output) if not self.native else None, staged=staged,
            warnings=self.warnings, corrections=self.corrections))

    def _write_output(self, progress: Callable[[dict], None] | None) -> Path:
        listing = self.work_dir / "segments.ffconcat"
        listing.write_text("ffconcat version 1.0\n" + "".join(
            f"file {self.journal['segments'][str(seg.index)]['file']}\n" for seg in self.segments))
        if self.native:
            seg_fmt = self.source_format
        else:
            seg_fmt = self.output_format.replace(pix_fmt=self.segment_pix,
                                                 bit_depth=8 if self.segment_pix == "gbrp" else 16)
        reader = VideoReader(listing, seg_fmt, mode="native" if self.native else "rgb",
                             queue_size=self.options.queue_size)
        options = self.options
        if self._replaces_own_output() and not options.overwrite:
            options = dataclasses.replace(options, overwrite=True)
        try:
            with open_output_writer(self.output, self.output_format, self.settings, self.source, self.report,
                                    self.pipe_pix, options, full_disk_advice=SEGMENTS_KEPT) as writer:
                self.notes += writer.stream_notes
                self.warnings += writer.stream_warnings
                t0 = time.perf_counter()
                for done, frame in enumerate(reader, start=1):
                    writer.write(frame)
                    if progress is not None:
                        elapsed = time.perf_counter() - t0
                        progress({"phase": "assemble", "done": done, "total": self.frames_out,
                                  "elapsed": elapsed, "fps": done / elapsed if elapsed > 0 else 0.0})
                if reader.frames_read != self.frames_out:
                    raise OutputError(f"the committed segments hold {reader.frames_read} frames, expected "
                                      f"{self.frames_out}: remove {self.work_dir} and run again")
                return writer.finish(self.frames_out, publish=False)
        finally:
            reader.close()

    def _write_frames_log(self, entries: list[dict]) -> list[tuple[Path, Path]]:
        if self.native:
            return []
        target = frames_log_path(self.output)
        tmp = target.with_name(f".{target.name}.partial")
        with open(tmp, "wb") as out:
            for entry in entries:
                out.write((self.work_dir / entry["frames_log"]).read_bytes())
        return [(tmp, target)]

    def close(self) -> None:
        self.lock.release()
        self.output_lock.release()


def run_resumable(source: Path, output: Path, spec: PipelineSpec, options: JobOptions | None = None, *,
                  segment_frames: int = DEFAULT_SEGMENT_FRAMES) -> JobResult:
    """``restore run --resume``: the whole file in this process, one segment after another."""
    options = options or JobOptions()
    job = SegmentedJob(source, output, spec, options, segment_frames=segment_frames)
    pending = job.open()
    try:
        t0 = time.perf_counter()
        done_before = job.frames_done
        for task in pending:
            base = job.frames_done

            def report(kept: int, base: int = base) -> None:
                if options.progress is not None:
                    elapsed = time.perf_counter() - t0
                    fresh = base + kept - done_before
                    options.progress({"done": base + kept, "total": job.frames_out, "elapsed": elapsed,
                                      "fps": fresh / elapsed if elapsed > 0 else 0.0})

            job.commit(process_segment(task, report))
        return job.assemble()
    finally:
        job.close()
