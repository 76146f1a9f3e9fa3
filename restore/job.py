"""One restoration job: a file in, a file out, through a pipeline.

This is where the rooms meet: media decodes and encodes, the pipeline runs the
stages, provenance records what happened. The CLI and batch both call ``run_job``.
"""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Callable

from restore import __version__
from restore.errors import InputError, PipelineError
from restore.frame import VideoFormat
from restore.media import colour, pixfmt
from restore.media.decode import VideoReader
from restore.media.encode import (VideoWriter, check_output_path, choose_settings, count_video_packets,
                                  rgb_pipe_format)
from restore.media.framedump import FrameDumper, FrameLog
from restore.media.integrity import truncation_shortfall
from restore.media.probe import main_video_stream, probe, video_format
from restore.media.timing import detect_variable_rate
from restore.pipeline.runner import Pipeline, configure_threads, resolve_device
from restore.pipeline.spec import PipelineSpec


@dataclass
class JobOptions:
    device: str = "auto"
    overwrite: bool = False
    keep_frames: Path | None = None
    scale: int | None = None             # --scale: overrides the pipeline's super-resolution factor
    size: tuple[int, int] | None = None  # --size WxH: exact output size (display aspect kept)
    codec: str | None = None             # --codec: ffv1 | h264 | h265
    batch_size: int = 4
    seed: int = 0
    queue_size: int = 8
    provenance: bool = True
    sign: bool = True
    progress: Callable[[dict], None] | None = None
    events: Callable[[dict], None] | None = None
    corrections: Path | None = None      # an operator's corrections.json (restore.corrections), applied last
    keep_work: bool = False              # segmented runs: keep the segments after assembly (for corrections)


@dataclass
class JobResult:
    output: Path
    frames_in: int
    frames_out: int
    seconds: float
    source_format: VideoFormat
    output_format: VideoFormat
    notes: list[str] = field(default_factory=list)
    stage_timings: list[dict] = field(default_factory=list)
    record: dict = field(default_factory=dict)
    provenance: dict | None = None

    @property
    def fps(self) -> float:
        return self.frames_out / self.seconds if self.seconds else 0.0


def inspect_input(path: Path) -> tuple[dict, VideoFormat]:
    report = probe(path, count=False)
    fmt = video_format(report)
    return report, fmt


def _stage_options(options: JobOptions) -> dict:
    opts = {}
    if options.scale:
        opts["scale"] = options.scale
    if options.size:
        opts["size"] = options.size
    return opts


def run_job(source: Path, output: Path, spec: PipelineSpec, options: JobOptions | None = None) -> JobResult:
    options = options or JobOptions()
    source, output = Path(source), Path(output)
    started = datetime.datetime.now(datetime.timezone.utc)
    t_start = time.perf_counter()
    report, src_fmt = inspect_input(source)
    video = main_video_stream(report)
    check_output_path(output, [source], options.overwrite)
    if (options.scale or options.size) and not any(s.name == "superres" for s in spec.stages):
        raise PipelineError(f"--scale/--size need a superres stage, and pipeline '{spec.name}' has none")

    notes: list[str] = []
    src_fmt, conform, expected_in = check_source(source, video, src_fmt, notes)

    meter = _start_energy_meter()
    stage_options = _stage_options(options)
    preview = max((s.cls.preview_frames(s.params) for s in spec.stages), default=0)
    if preview:
        stage_options["preview_frames"] = [f.image for f in VideoReader(source, src_fmt, max_frames=preview)]
    device = resolve_device(options.device)  # after the stage modules are imported (they bring torch)
    configure_threads()
    pipeline = Pipeline(spec, src_fmt, device=device, batch_size=options.batch_size, seed=options.seed,
                        options=stage_options, report=options.events)
    stage_options.pop("preview_frames", None)
    settings, out_fmt = output_settings(output, src_fmt, pipeline.output_format, spec, options, notes)
    native = is_native(pipeline, src_fmt, out_fmt)
    corrections = load_corrections(options)
    if corrections and native:
        raise PipelineError("corrections need a pipeline with stages: the pass-through pipeline restores nothing "
                            "to undo")
    fixer = corrections_applier(corrections, options, pipeline)
    reader = VideoReader(source, src_fmt, mode="native" if native else "rgb", conform_fps=conform,
                         queue_size=options.queue_size)
    input_pix = reader.pix_fmt if native else rgb_pipe_format(settings, out_fmt)
    writer = None
    dumper = None
    frame_log = FrameLog(frames_log_path(output)) if pipeline.stages else None
    try:
        writer = open_output_writer(output, out_fmt, settings, source, report, input_pix, options)
        notes += writer.stream_notes
        if options.keep_frames is not None:
            if native:
                raise PipelineError("--keep-frames needs a pipeline with stages (the pass-through pipeline "
                                    "writes no frames as images)")
            dumper = FrameDumper(options.keep_frames, bit_depth=out_fmt.bit_depth)
        pipeline.setup()
        total_out = expected_in * pipeline.frame_ratio if expected_in is not None else None
        frames_out = 0
        t0 = time.perf_counter()
        frames = iter(reader)
        stream = fixer.run(pipeline, frames, lambda spec: Pipeline(
            spec, src_fmt, device=device, batch_size=options.batch_size, seed=options.seed,
            options=stage_options)) if fixer is not None else pipeline.run(frames)
        for frame in stream:
            if fixer is not None:
                frame = fixer.apply(frame)
            writer.write(frame)
            if frame_log is not None:
                frame_log.write(frame)
            if dumper is not None:
                dumper.write(frame)
            frames_out += 1
            if options.progress is not None:
                elapsed = time.perf_counter() - t0
                options.progress({"done": frames_out, "total": total_out, "elapsed": elapsed,
                                  "fps": frames_out / elapsed if elapsed > 0 else 0.0})
        frames_in = reader.frames_read
        if expected_in is not None and frames_in != expected_in:
            raise InputError(f"{source}: decoded {frames_in} of {expected_in} frames: the input is truncated "
                             "or damaged")
        if frames_in == 0:
            raise InputError(f"{source}: no frame could be decoded")
        expected_out = frames_in * pipeline.frame_ratio
        if frames_out != expected_out:
            raise RuntimeError(f"pipeline produced {frames_out} frames from {frames_in}, expected {expected_out}")
        writer.finish(expected_out)
        writer = None
        if frame_log is not None:
            frame_log.commit()
    except BaseException:
        if writer is not None:
            writer.abort()
        if frame_log is not None:
            frame_log.discard()
        raise
    finally:
        reader.close()
        pipeline.close()
        if dumper is not None:
            dumper.close()

    energy = meter.stop().as_dict() if meter is not None else None
    return finish_job(source, output, spec, options, pipeline.describe(), device, started, t_start, frames_in,
                      frames_out, report, src_fmt, out_fmt, settings, notes,
                      [t.as_dict() for t in pipeline.timings], energy,
                      frames_log_path(output) if frame_log is not None else None, corrections)


def load_corrections(options: JobOptions) -> list[dict] | None:
    """The active corrections of ``options.corrections`` (None when the run has none)."""
    if options.corrections is None:
        return None
    from restore import corrections

    return corrections.active(corrections.load_document(options.corrections))


def corrections_applier(items: list[dict] | None, options: JobOptions, pipeline: Pipeline):
    """The last step of a run: the operator's corrections (None when there is nothing to apply)."""
    if not items:
        return None
    from restore.corrections import Applier

    fmt = pipeline.output_format
    return Applier(items, Path(options.corrections).parent, fmt.width, fmt.height, pipeline.frame_ratio)


def check_source(source: Path, video: dict, src_fmt: VideoFormat, notes: list[str]
                 ) -> tuple[VideoFormat, Fraction | None, int | None]:
    """Refuse truncated files; conform variable-rate video; settle the colour tags (assumed ones are noted).

    Returns (format, conform fps, expected frames)."""
    src_fmt, assumed = colour.resolve_source(src_fmt)
    if assumed:
        notes.append(assumed)
    missing = truncation_shortfall(source)
    if missing:
        raise InputError(f"{source}: the file is truncated ({missing} bytes missing by its container's own size)")
    packets = count_video_packets(source)
    conform = detect_variable_rate(source, video, packets)
    if conform is not None:
        notes.append(f"variable frame rate: conformed to a constant {conform} fps (frames repeated or dropped "
                     "by timestamp so sound stays in sync)")
        src_fmt = src_fmt.replace(fps=conform)
    return src_fmt, conform, None if conform is not None else packets


def output_settings(output: Path, src_fmt: VideoFormat, out_fmt: VideoFormat, spec: PipelineSpec,
                    options: JobOptions, notes: list[str]):
    """The encoder settings and the output format with its bit depth and colour tags settled."""
    settings = choose_settings(output, out_fmt, codec=options.codec or spec.output.codec,
                               bit_depth=spec.output.bit_depth, crf=spec.output.crf)
    out_fmt, converted = colour.resolve_output(src_fmt, out_fmt, settings.pix_fmt, spec.output.colour)
    if converted:
        notes.append(converted)
    return settings, out_fmt.replace(bit_depth=pixfmt.pixel_depth(settings.pix_fmt))


def is_native(pipeline: Pipeline, src_fmt: VideoFormat, out_fmt: VideoFormat) -> bool:
    """Frames can travel as the decoder's own samples (bit-exact): no stage, and the same matrix and range."""
    return not pipeline.stages and (src_fmt.colorspace, src_fmt.color_range) == (out_fmt.colorspace,
                                                                                 out_fmt.color_range)


def open_output_writer(output: Path, out_fmt: VideoFormat, settings, source: Path, report: dict, input_pix: str,
                       options: JobOptions) -> VideoWriter:
    """The final file's writer, carrying the source's sound, subtitles, timecode and tags."""
    video = main_video_stream(report)
    # the source's video may start after its sound: keep that offset, or lip sync drifts by it
    video_offset = max(0.0, (video.get("start_time") or 0.0) - (report.get("start_time") or 0.0))
    timecode = video.get("timecode") or report.get("timecode")
    return VideoWriter(output, out_fmt, settings, source=source, source_report=report, input_pix=input_pix,
                       queue_size=options.queue_size, overwrite=options.overwrite, timecode=timecode,
                       source_video=video, video_offset=video_offset)


def finish_job(source: Path, output: Path, spec: PipelineSpec, options: JobOptions, stages: list[dict],
               device: str, started: datetime.datetime, t_start: float, frames_in: int, frames_out: int,
               report: dict, src_fmt: VideoFormat, out_fmt: VideoFormat, settings, notes: list[str],
               stage_timings: list[dict], energy: dict | None, frames_log: Path | None = None,
               corrections: list[dict] | None = None) -> JobResult:
    """The run record and provenance of a written output (shared by whole-file and segmented runs)."""
    _check_duration(report, main_video_stream(report), output, out_fmt, frames_out, notes)
    finished = datetime.datetime.now(datetime.timezone.utc)
    result = JobResult(output=output, frames_in=frames_in, frames_out=frames_out,
                       seconds=time.perf_counter() - t_start, source_format=src_fmt, output_format=out_fmt,
                       notes=notes, stage_timings=stage_timings)
    result.record = {
        "restore_version": __version__,
        "pipeline": {"name": spec.name, "path": spec.source, "yaml": spec.text, "spec": spec.as_dict()},
        "stages": stages,
        "device": device,
        "started": started.isoformat(),
        "finished": finished.isoformat(),
        "frames": {"in": frames_in, "out": frames_out},
        "source_probe": report,
        "output_format": {**_format_dict(out_fmt), **settings.describe()},
        "colour": {"source": colour.describe(src_fmt), "output": colour.describe(out_fmt),
                   "notes": [n for n in notes if n.startswith("colour:")]},
        "notes": notes,
        "stage_timings": stage_timings,
        "frames_log": str(frames_log) if frames_log is not None else None,
        "energy": energy,
        "metrics": None,
    }
    if corrections:
        from restore.corrections import record_entries

        # each becomes a PREMIS event and a C2PA action (restore.provenance.finalize)
        result.record["corrections"] = record_entries(corrections)
    if options.provenance:
        result.provenance = _finalize_provenance(output, source, result.record, options.sign)
    return result


def frames_log_path(output: Path) -> Path:
    return output.with_name(output.name + ".frames.jsonl")


def _format_dict(fmt: VideoFormat) -> dict:
    return {"width": fmt.width, "height": fmt.height, "fps": f"{fmt.fps.numerator}/{fmt.fps.denominator}",
            "sar": f"{fmt.sar.numerator}/{fmt.sar.denominator}", "field_order": fmt.field_order,
            "bit_depth": fmt.bit_depth, "color_primaries": fmt.color_primaries, "color_trc": fmt.color_trc,
            "colorspace": fmt.colorspace, "color_range": fmt.color_range}


def _check_duration(report: dict, video: dict, output: Path, fmt: VideoFormat, frames_out: int, notes: list) -> None:
    """Output duration must match the source's video duration within one frame."""
    src = video.get("duration")
    if src is None:
        return
    out = float(Fraction(frames_out) / fmt.fps)
    if abs(out - src) > float(1 / fmt.fps) + 1e-6:
        notes.append(f"video duration {out:.3f} s differs from the source's {src:.3f} s by more than one frame")


def _start_energy_meter():
    try:
        from restore.energy import EnergyMeter
    except ImportError:
        return None
    meter = EnergyMeter()
    start = getattr(meter, "start", None) or getattr(meter, "__enter__", None)
    if start is not None:
        start()
    return meter


def _finalize_provenance(output: Path, source: Path, record: dict, sign: bool) -> dict | None:
    try:
        from restore.provenance import finalize_output
    except ImportError:
        return None
    return finalize_output(output=output, source=source, record=record, sign=sign, embed=True)
