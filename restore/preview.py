"""``restore run IN --preview N --report DIR``: N frames spread over the source, restored into the review report,
without writing a full output.

Frame k of a preview is the frame a whole run would make (for stages with recursive state, within a few
levels of it): each is restored from a window of the source that holds the temporal context its pipeline
needs (the stages' radii, plus ``warmup`` frames for stages with recursive state,
``restore.batch.segments.pipeline_margins``, the same reach a segment of a resumable run reads), by a fresh
pipeline, and only frame k's output is kept. The report compares those
frames with the source's, says which source frames they are, and holds each restored frame as a lossless
image (``preview/``: PNG, or 16-bit TIFF for deeper pictures, named by source frame) with ``preview.json``.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from restore.errors import InputError, UserError
from restore.frame import Frame
from restore.job import (JobOptions, _stage_options, check_sequence, check_source, inspect_input, reader_input)
from restore.media.decode import VideoReader
from restore.media.encode import EncodeSettings, VideoWriter
from restore.media.framedump import FrameDumper, FrameLog
from restore.media.probe import main_video_stream
from restore.pipeline.runner import Pipeline, configure_threads, resolve_device
from restore.pipeline.spec import PipelineSpec


@dataclass
class PreviewResult:
    report: Path
    source_frames: list[int]
    behind: int
    ahead: int
    frames_out: int
    seconds: float
    notes: list[str]
    warnings: list[str]

    def lines(self) -> list[str]:
        lines = [f"previewed source frames {', '.join(map(str, self.source_frames))} ({self.frames_out} restored "
                 f"frames, {self.behind} frame(s) of context before and {self.ahead} after each, "
                 f"{self.seconds:.1f} s); no output written",
                 f"  report: {self.report}"]
        lines += [f"  note: {n}" for n in self.notes]
        return lines


def preview_positions(total: int, count: int) -> list[int]:
    """``count`` source frames evenly spread over ``total``: the middle of each of ``count`` equal parts."""
    count = min(count, total)
    return sorted({min(total - 1, int((2 * i + 1) * total // (2 * count))) for i in range(count)})


def run_preview(source: Path, spec: PipelineSpec, options: JobOptions, count: int, report_dir: Path) -> PreviewResult:
    t0 = time.perf_counter()
    source = Path(source)
    report, src_fmt = inspect_input(source, options.sequence)
    video = main_video_stream(report)
    notes: list[str] = []
    if options.sequence is not None:
        src_fmt, timing, total = check_sequence(options.sequence, src_fmt, notes, options.fill_gaps)
    else:
        src_fmt, timing, total = check_source(source, video, src_fmt, notes, fill_gaps=options.fill_gaps)
    if timing.conform is not None or total is None:
        raise InputError(f"{source}: --preview needs a constant-rate source with every frame present (this one is "
                         "variable-rate or has gaps): restore it whole, or conform it first")
    if options.start or options.duration or options.frames:
        raise UserError("--preview picks its own frames over the whole file: give it without --start/--duration/"
                        "--frames")
    if options.keep_frames is not None:
        raise UserError("--preview writes its frames into the report (DIR/preview): give it without --keep-frames")
    stage_options = _stage_options(options)
    peek = spec.preview_frames()
    head = [f.image for f in VideoReader(source, src_fmt, max_frames=peek,
                                         input_args=reader_input(options))] if peek else []
    device = resolve_device(options.device)
    configure_threads()
    probe_pipeline = Pipeline(spec, src_fmt, device=device, batch_size=options.batch_size, seed=options.seed,
                              options=stage_options, preview=head)
    from restore.batch.segments import pipeline_margins

    behind, ahead = pipeline_margins(probe_pipeline)
    ratio, out_fmt = probe_pipeline.frame_ratio, probe_pipeline.output_format
    probe_pipeline.close()
    positions = preview_positions(total, count)
    deep = src_fmt.bit_depth > 8 or out_fmt.bit_depth > 8
    pipe = "rgb48le" if deep else "rgb24"
    work = Path(tempfile.mkdtemp(prefix="restore-preview-"))
    before_writer = after_writer = log = dumper = None
    try:
        # BEFORE: the previewed source frames; AFTER: their restorations; both lossless RGB, read by the review
        before_fmt = src_fmt.replace(pix_fmt="gbrp16le" if deep else "gbrp", bit_depth=16 if deep else 8)
        after_fmt = out_fmt.replace(pix_fmt="gbrp16le" if deep else "gbrp", bit_depth=16 if deep else 8)
        before_writer = VideoWriter(work / "before.mkv", _rgb(before_fmt), EncodeSettings("matroska", "ffv1",
                                    before_fmt.pix_fmt), input_pix=pipe)
        after_writer = VideoWriter(work / "after.mkv", _rgb(after_fmt), EncodeSettings("matroska", "ffv1",
                                   after_fmt.pix_fmt), input_pix=pipe)
        log = FrameLog(work / "after.mkv.frames.jsonl")
        dumper = FrameDumper(work / "preview", bit_depth=16 if deep else 8)
        written = 0
        for slot, k in enumerate(positions):
            lead, tail = min(behind, k), min(ahead, total - 1 - k)
            pipeline = Pipeline(spec, src_fmt, device=device, batch_size=options.batch_size, seed=options.seed,
                                options=stage_options, preview=head)
            reader = VideoReader(source, src_fmt, mode="rgb", start_frame=k - lead, max_frames=lead + 1 + tail,
                                 input_args=reader_input(options))
            try:
                pipeline.setup()
                produced, kept, seen = 0, [], []

                def tap(frames, k=k):
                    for f in frames:
                        if f.index == k:
                            seen.append(f.image)
                        yield f

                for frame in pipeline.run(tap(iter(reader))):
                    if lead * ratio <= produced < (lead + 1) * ratio:
                        kept.append(frame)
                    produced += 1
                if reader.frames_read != lead + 1 + tail:
                    raise InputError(f"{source}: decoded {reader.frames_read} of {lead + 1 + tail} frames from "
                                     f"frame {k - lead}: the input is truncated or damaged")
                if len(kept) != ratio:
                    raise RuntimeError(f"preview of frame {k}: the pipeline gave {len(kept)} frames, expected {ratio}")
            finally:
                reader.close()
                pipeline.close()
            before_writer.write(Frame(index=slot, pts=Fraction(slot) / src_fmt.fps, image=seen[0]))
            for j, frame in enumerate(kept):
                out = Frame(index=written, pts=Fraction(written) / out_fmt.fps, image=frame.image, source_index=slot,
                            notes=dict(frame.notes))
                after_writer.write(out)
                log.write(out)
                # named by source frame (and field, for a field-rate pipeline), as a whole run's --keep-frames
                dumper.write(Frame(index=k * ratio + j, pts=frame.pts, image=frame.image, source_index=k))
                written += 1
        before_writer.finish(len(positions))
        before_writer = None
        after_writer.finish(written)
        after_writer = None
        log.commit()
        dumper.close()
        (work / "preview" / "preview.json").write_text(json.dumps(
            {"source": str(source), "pipeline": spec.name, "source_frames": positions, "source_total": total,
             "frames_per_source_frame": ratio, "context_behind": behind, "context_ahead": ahead,
             "files": sorted(p.name for p in (work / "preview").iterdir() if p.suffix in (".png", ".tiff"))},
            indent=2) + "\n")
        from restore.review import build_report

        if options.sequence is not None:
            # an image sequence's frames are named by the numbers in its file names
            files = [options.sequence.file_name(options.sequence.first + k) for k in positions]
            notes.append(f"previewed files: {', '.join(files)}")
        extra = {"preview": {"source_frames": positions, "source_total": total, "context_behind": behind,
                             "context_ahead": ahead, "frames_per_source_frame": ratio,
                             "note": "before/after frame i is source frame source_frames[i] (counted from the "
                                     "first frame); no output was written",
                             **({"source_files": files} if options.sequence is not None else {})}}
        index = build_report(work / "before.mkv", work / "after.mkv", report_dir, frames_log=log.path,
                             extra=extra, attach={"preview": work / "preview"})
    except BaseException:
        for w in (before_writer, after_writer):
            if w is not None:
                w.abort()
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return PreviewResult(index, positions, behind, ahead, written, time.perf_counter() - t0, notes, [])


def _rgb(fmt):
    """RGB files for the review's eyes only: full-range RGB tags, whatever the source's were."""
    return fmt.replace(colorspace="gbr", color_range="pc", color_primaries=fmt.color_primaries or "unknown",
                       color_trc=fmt.color_trc or "unknown")
