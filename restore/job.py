"""One restoration job: a file in, a file out, through a pipeline.

This is where the rooms meet: media decodes and encodes, the pipeline runs the
stages, provenance records what happened. The CLI and batch both call ``run_job``.
"""

from __future__ import annotations

import contextlib
import datetime
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator

from restore import __version__
from restore.energy import EnergyMeter
from restore.clock import utc_now
from restore.errors import InputError, OutputError, PipelineError, UserError
from restore.frame import VideoFormat
from restore.lock import output_lock
from restore.media import colour, pixfmt
from restore.media.decode import VideoReader
from restore.media.encode import (EncodeSettings, VideoWriter, check_output_path, choose_settings,
                                  count_video_packets, publish_output, rgb_pipe_format)
from restore.media.framedump import FrameDumper, FrameLog
from restore.media.integrity import truncation_shortfall
from restore.media.probe import main_video_stream, probe, video_format
from restore.media.streams import check_timecode
from restore.media.sequence import ImageSequence
from restore.media.timing import MAX_FILL_SECONDS, Gap, Timing, analyse, parse_position, shift_timecode
from restore.pipeline.runner import Pipeline, configure_threads, resolve_device
from restore.pipeline.spec import PipelineSpec


class UsageError(UserError):
    """An option that cannot apply to this source (a trim past its end)."""


@dataclass
class JobOptions:
    device: str = "auto"
    overwrite: bool = False
    keep_frames: Path | None = None
    scale: int | None = None             # --scale: overrides the pipeline's super-resolution factor
    size: tuple[int, int] | None = None  # --size WxH: exact output size (display aspect kept)
    codec: str | None = None             # --codec: a name from restore.media.codecs
    bit_depth: int | None = None         # --bit-depth: overrides output.bit_depth
    chroma: str | None = None            # --chroma: overrides output.chroma
    batch_size: int = 4
    seed: int = 0
    queue_size: int = 8
    provenance: bool = True
    sign: bool = True
    fill_gaps: bool = False              # --fill-gaps: repeat the previous frame where the source has none
    start: str | None = None             # --start: first frame (frames, 10s, or HH:MM:SS:FF from the first frame)
    duration: str | None = None          # --duration: how much (same forms)
    frames: int | None = None            # --frames: how many frames (instead of --duration)
    sequence: ImageSequence | None = None  # the input is this image sequence (restore.media.sequence.scan)
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
    # what the run could not keep or had to invent: shown on stderr even with --quiet, and recorded
    warnings: list[str] = field(default_factory=list)
    stage_timings: list[dict] = field(default_factory=list)
    record: dict = field(default_factory=dict)
    provenance: dict | None = None

    @property
    def fps(self) -> float:
        return self.frames_out / self.seconds if self.seconds else 0.0


def inspect_input(path: Path, sequence: ImageSequence | None = None) -> tuple[dict, VideoFormat]:
    if sequence is not None:
        return inspect_sequence(sequence)
    report = probe(path, count=False)
    fmt = video_format(report)
    if main_video_stream(report).get("dpx_transfer") is not None and pixfmt.is_rgb(fmt.pix_fmt):
        # a master made from a DPX scan: what its tags leave unknown stays unknown (not assumed from the size)
        fmt = fmt.replace(color_primaries=fmt.color_primaries or "unknown", color_trc=fmt.color_trc or "unknown")
    return report, fmt


def inspect_sequence(sequence: ImageSequence) -> tuple[dict, VideoFormat]:
    """An image sequence's report and format. A scan is not a television signal: a colour tag its files do not
    carry is "unknown", not assumed from the frame size; floating-point (EXR) frames are read as 16-bit."""
    from restore.media.sequence import sequence_report

    report = sequence_report(sequence)
    fmt = video_format(report)
    if pixfmt.is_float(fmt.pix_fmt):
        fmt = fmt.replace(bit_depth=16)
    if pixfmt.is_rgb(fmt.pix_fmt) or pixfmt.is_float(fmt.pix_fmt):
        fmt = fmt.replace(color_primaries=fmt.color_primaries or "unknown", color_trc=fmt.color_trc or "unknown",
                          colorspace="gbr", color_range="pc")
    return report, fmt


def reader_input(options: JobOptions) -> list[str] | None:
    """ffmpeg's input arguments for the source when it is an image sequence (None: a file, ``-i PATH``)."""
    return options.sequence.input_args() if options.sequence is not None else None


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
    started = utc_now()
    t_start = time.perf_counter()
    report, src_fmt = inspect_input(source, options.sequence)
    video = main_video_stream(report)
    check_output(output, source, options)
    spec.check_resize_options(options.scale, options.size)
    try:
        with output_lock(lock_target(output)):
            # checked again under the lock: another run may have published it while we waited for nothing
            check_output(output, source, options)
            return _run_locked(source, output, spec, options, report, src_fmt, video, started, t_start)
    finally:
        if options.sequence is not None:
            options.sequence.cleanup()


def is_sequence_output(output: Path) -> bool:
    from restore.media import codecs

    box = codecs.container_for_extension(Path(output).suffix)
    return box is not None and box.sequence


def lock_target(output: Path) -> Path:
    """What a run locks: the output file, or an output sequence's folder."""
    if is_sequence_output(output):
        from restore.media.sequence import sequence_target

        return sequence_target(output).folder
    return output


def check_output(output: Path, source: Path, options: JobOptions) -> None:
    if is_sequence_output(output):
        from restore.media.sequence import check_sequence_output, sequence_target

        target = sequence_target(output)
        if options.sequence is not None and target.folder.resolve() == options.sequence.folder.resolve():
            raise OutputError(f"refusing to write the sequence into its source's folder {target.folder}")
        check_sequence_output(target, options.overwrite)
        return
    check_output_path(output, [source] if options.sequence is None else [], options.overwrite)


def _run_locked(source: Path, output: Path, spec: PipelineSpec, options: JobOptions, report: dict,
                src_fmt: VideoFormat, video: dict, started: datetime.datetime, t_start: float) -> JobResult:
    notes: list[str] = []
    warnings: list[str] = []
    if options.sequence is not None:
        src_fmt, timing, expected_in = check_sequence(options.sequence, src_fmt, notes, options.fill_gaps)
    else:
        src_fmt, timing, expected_in = check_source(source, video, src_fmt, notes, fill_gaps=options.fill_gaps)
    filled = fill_notes(timing, warnings)
    trim = plan_trim(options, src_fmt, timing, expected_in, source)
    if trim is not None:
        expected_in = trim.frames
        notes.append(trim.describe())

    device = resolve_device(options.device)  # after the stage modules are imported (they bring torch)
    meter = _start_energy_meter(device)   # reads the energy counter of that device only, none for cpu
    stage_options = _stage_options(options)
    preview = spec.preview_frames()
    head = [f.image for f in VideoReader(source, src_fmt, max_frames=preview,
                                         input_args=reader_input(options))] if preview else []
    configure_threads()
    pipeline = Pipeline(spec, src_fmt, device=device, batch_size=options.batch_size, seed=options.seed,
                        options=stage_options, report=options.events, preview=head)
    del head
    for i, stage in enumerate(spec.stages):
        notes.extend(stage.cls.pipeline_notes(stage.params, spec.stages[:i]))
    settings, out_fmt = output_settings(output, src_fmt, pipeline.output_format, spec, options, notes)
    native = is_native(pipeline, src_fmt, out_fmt)
    corrections = load_corrections(options)
    if corrections and native:
        raise PipelineError("corrections need a pipeline with stages: the pass-through pipeline restores nothing "
                            "to undo")
    fixer = corrections_applier(corrections, options, pipeline)
    reader = VideoReader(source, src_fmt, mode="native" if native else "rgb", conform_fps=timing.conform,
                         queue_size=options.queue_size, start_frame=trim.start if trim else 0,
                         max_frames=trim.frames if trim else None, input_args=reader_input(options))
    input_pix = reader.pix_fmt if native else rgb_pipe_format(settings, out_fmt)
    sequence_out = is_sequence_output(output)
    # nothing of a failed or interrupted run stays: not the encode, not the staged output, not the log, not
    # the captions (each context below removes its own on an exception)
    with contextlib.ExitStack() as stack:
        stack.callback(pipeline.close)
        stack.callback(reader.close)
        writer = stack.enter_context(open_output_writer(output, out_fmt, settings, source, report, input_pix,
                                                        options, trim, frame_ratio=pipeline.frame_ratio))
        frame_log = None
        if pipeline.stages:
            # an output sequence's log goes into its folder, which is renamed into place with the frames
            frame_log = stack.enter_context(FrameLog(frames_log_path(output, writer.temp if sequence_out
                                                                     else None)))
        notes += writer.stream_notes
        warnings += writer.stream_warnings
        dumper = None
        if options.keep_frames is not None:
            if native:
                raise PipelineError("--keep-frames needs a pipeline with stages (the pass-through pipeline "
                                    "writes no frames as images)")
            dumper = FrameDumper(options.keep_frames, bit_depth=out_fmt.bit_depth)
            stack.callback(dumper.close)
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
        staged = writer.finish(expected_out, publish=False)
        captions, caption_files = stack.enter_context(_removed_on_error(
            keep_captions(output, staged, source, video, trim, sequence_out, warnings)))
        damage = decoder_damage(reader.errors(), reader.message_count)
        if damage:
            warnings.append(damage)
        companions: list[tuple[Path, Path]] = []
        if frame_log is not None and sequence_out:
            frame_log.commit()
        elif frame_log is not None:
            companions.append(frame_log.close())
        companions += caption_files
        result = finish_job(RunFacts(
            source=source, output=output, spec=spec, options=options, stages=pipeline.describe(), device=device,
            started=started, t_start=t_start, frames_in=frames_in, frames_out=frames_out, report=report,
            src_fmt=src_fmt, out_fmt=out_fmt, settings=settings, notes=notes,
            stage_timings=[t.as_dict() for t in pipeline.timings], energy=meter.stop().as_dict(),
            frames_log=frames_log_path(output) if frame_log is not None else None, staged=staged,
            warnings=warnings, filled=filled, decoder_messages=reader.errors(), trim=trim, captions=captions,
            corrections=corrections))
        if sequence_out:
            from restore.media.sequence import publish_sequence

            publish_sequence(staged, writer_target(output), options.overwrite)
        else:
            publish_output(staged, output, options.overwrite,
                           companions + (result.provenance or {}).get("pending", []))
        return result


@contextlib.contextmanager
def _removed_on_error(kept: tuple[dict | None, list[tuple[Path, Path]]]
                      ) -> Iterator[tuple[dict | None, list[tuple[Path, Path]]]]:
    """``keep_captions``' result; its temporary files are removed if the run fails before publishing them."""
    try:
        yield kept
    except BaseException:
        for tmp, _final in kept[1]:
            tmp.unlink(missing_ok=True)
        raise


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


def check_source(source: Path, video: dict, src_fmt: VideoFormat, notes: list[str], fill_gaps: bool = False
                 ) -> tuple[VideoFormat, Timing, int | None]:
    """Refuse truncated files and frames the source cannot give; conform variable-rate video; settle the
    colour tags (assumed ones are noted).

    Returns (format, timing, expected frames: None when conforming a variable rate leaves it open)."""
    src_fmt, assumed = colour.resolve_source(src_fmt)
    if assumed:
        notes.append(assumed)
    missing = truncation_shortfall(source)
    if missing:
        raise InputError(f"{source}: the file is truncated ({missing} bytes missing by its container's own size)")
    packets = count_video_packets(source)
    timing = analyse(source, video, packets)
    if timing.gaps:
        first = timing.gaps[0]
        more = f" and {len(timing.gaps) - 1} more gap(s), {timing.missing} frames in all" if len(timing.gaps) > 1 \
            else ""
        if not fill_gaps:
            raise InputError(f"{source}: the source has no picture for {first.describe()}{more} (damaged or cut "
                             "container?); pass --fill-gaps to fill them with copies of the frame before, listed "
                             "on stderr and in the record")
        rate = timing.conform
        if timing.missing > MAX_FILL_SECONDS * float(rate):
            raise InputError(f"{source}: {timing.missing} frames are missing ({first.describe()}{more}): "
                             f"--fill-gaps fills at most {MAX_FILL_SECONDS:.0f} s ({int(MAX_FILL_SECONDS * rate)} "
                             "frames); cut the file at the gap and restore the parts")
    if timing.variable:
        notes.append(f"variable frame rate: conformed to a constant {timing.conform} fps (frames repeated or "
                     "dropped by timestamp so sound stays in sync)")
    if timing.conform is not None:
        src_fmt = src_fmt.replace(fps=timing.conform)
    expected = None if timing.variable else packets + timing.missing
    return src_fmt, timing, expected


def check_sequence(sequence: ImageSequence, src_fmt: VideoFormat, notes: list[str], fill_gaps: bool
                   ) -> tuple[VideoFormat, Timing, int]:
    """An image sequence's frames: a number with no file is refused, or filled with ``--fill-gaps`` (then
    reported like a gap in a video, by frame number); DPX transfer codes and EXR clipping are noted."""
    from restore.media.sequence import DPX_CODES, gaps_message

    timing = Timing()
    rate = sequence.rate
    for first, last in sequence.gaps():
        before = first - 1
        timing.gaps.append(Gap(after_frame=before, after_time=float((before - sequence.first) / rate),
                               resume_time=float((last + 1 - sequence.first) / rate), missing=last - first + 1))
    if timing.gaps:
        if not fill_gaps:
            raise InputError(f"{gaps_message(sequence)}; pass --fill-gaps to fill them with copies of the frame "
                             "before, listed on stderr and in the record")
        if timing.missing > MAX_FILL_SECONDS * float(rate):
            raise InputError(f"{gaps_message(sequence)}: --fill-gaps fills at most {MAX_FILL_SECONDS:.0f} s "
                             f"({int(MAX_FILL_SECONDS * rate)} frames); restore the parts separately")
    header = sequence.header
    if sequence.codec == "dpx" and header is not None and header.transfer is not None:
        name = DPX_CODES.get(header.transfer, "reserved")
        kept = ("kept in the record, as the DPX_TRANSFER/DPX_COLORIMETRIC tags of a Matroska master, and in the "
                "header of every DPX written")
        if src_fmt.color_trc == "unknown":
            notes.append(f"colour: DPX transfer characteristic '{name}' (code {header.transfer}), colorimetric "
                         f"'{DPX_CODES.get(header.colorimetric, 'reserved')}' (code {header.colorimetric}): no ffmpeg "
                         f"colour tag means this, so the output's transfer is tagged 'unknown'; the codes are {kept}")
        else:
            notes.append(f"colour: DPX transfer characteristic '{name}' (code {header.transfer}) read as "
                         f"{src_fmt.color_trc}; the codes are {kept}")
    if pixfmt.is_float(src_fmt.pix_fmt):
        notes.append("OpenEXR frames are read as 16-bit integers: values below 0 or above 1 (highlights of a "
                     "linear HDR image) are clipped")
    notes.append(f"image sequence {sequence.pattern}: frames {sequence.first}-{sequence.last} "
                 f"({sequence.count} frames) at {rate} fps (--rate)")
    return src_fmt, timing, sequence.count


def keep_captions(output: Path, staged: Path, source: Path, video: dict, trim: "Trim | None", sequence_out: bool,
                  warnings: list[str]) -> tuple[dict | None, list[tuple[Path, Path]]]:
    """Closed captions in the source picture's side data, which a re-encode drops: extracted beside the output
    (``OUT.captions.scc`` and ``.srt``; in an output sequence's folder, ``NAME.captions.…``), and the run says
    so. Returns the record's facts and the (temporary, final) files to publish with the output."""
    if not video.get("closed_captions"):
        return None, []
    from restore.media import captions
    from restore.media.encode import staging_name

    if sequence_out:
        name = writer_target(output).name
        finals = [staged / f"{name}.captions.scc", staged / f"{name}.captions.srt"]
        temps = finals
        shown = [writer_target(output).folder / p.name for p in finals]
    else:
        finals = [output.with_name(output.name + ".captions.scc"), output.with_name(output.name + ".captions.srt")]
        temps = [staging_name(p) for p in finals]
        shown = finals
    window = (trim.start_seconds, trim.duration_seconds) if trim is not None else None
    facts = captions.extract(source, temps[0], temps[1], window)
    index = video.get("index")
    warnings[:] = [w for w in warnings if not w.startswith("closed captions")]
    warnings.append(f"closed captions (CEA-608 in video stream {index}'s side data) are not inside the re-encoded "
                    f"picture: extracted beside it to {shown[0].name} (the 608 codes with timecodes, for "
                    f"re-insertion) and {shown[1].name} ({facts['cues']} caption(s) as text)")
    facts = {"source_stream": index, "carried_in_picture": False, "scc": shown[0].name, "srt": shown[1].name,
             "srt_cues": facts["cues"], "trimmed": window is not None}
    return facts, ([] if sequence_out else list(zip(temps, finals)))


def fill_notes(timing: Timing, warnings: list[str]) -> list[dict]:
    """One warning per gap naming every frame filled, and the list of filled frames for the record."""
    filled = []
    for gap in timing.gaps:
        first, last = gap.after_frame + 1, gap.after_frame + gap.missing
        frames = f"frame {first}" if first == last else f"frames {first}-{last}"
        warnings.append(f"filled {frames} ({gap.after_time:.3f}-{gap.resume_time:.3f} s: the source has no "
                        f"picture there) with copies of frame {gap.after_frame} (--fill-gaps)")
        step = (gap.resume_time - gap.after_time) / (gap.missing + 1)
        filled += [{"frame": gap.after_frame + k, "time": round(gap.after_time + k * step, 6),
                    "copy_of": gap.after_frame} for k in range(1, gap.missing + 1)]
    return filled


def decoder_damage(messages: list[str], count: int | None = None) -> str | None:
    """One line when the decoder complained about the source: its concealment is in those frames."""
    if not messages:
        return None
    shown = "; ".join(m[:160] for m in messages[:2])
    return (f"the source is damaged: ffmpeg reported {count or len(messages)} error(s) reading it ({shown}): "
            "frames near them may hold the decoder's concealment, not the source's pictures; every message is "
            "in the record")


def output_settings(output: Path, src_fmt: VideoFormat, out_fmt: VideoFormat, spec: PipelineSpec,
                    options: JobOptions, notes: list[str]):
    """The encoder settings and the output format with its bit depth and colour tags settled."""
    settings = choose_settings(output, out_fmt, codec=options.codec or spec.output.codec,
                               bit_depth=options.bit_depth or spec.output.bit_depth, crf=spec.output.crf,
                               chroma=options.chroma or spec.output.chroma)
    out_fmt, converted = colour.resolve_output(src_fmt, out_fmt, settings.pix_fmt, spec.output.colour)
    if converted:
        notes.append(converted)
    return settings, out_fmt.replace(bit_depth=pixfmt.pixel_depth(settings.pix_fmt))


def is_native(pipeline: Pipeline, src_fmt: VideoFormat, out_fmt: VideoFormat) -> bool:
    """Frames can travel as the decoder's own samples (bit-exact): no stage, and the same matrix and range."""
    return not pipeline.stages and (src_fmt.colorspace, src_fmt.color_range) == (out_fmt.colorspace,
                                                                                 out_fmt.color_range)


def writer_target(output: Path):
    from restore.media.sequence import sequence_target

    return sequence_target(output)


def dpx_codes(video: dict, out_fmt: VideoFormat) -> tuple[int, int]:
    """The DPX transfer and colorimetric codes for frames of this source: its own DPX codes when it has them
    (a DPX sequence, or a master made from one), else the codes of its colour tags (0, user-defined, when
    they name no DPX code: ffmpeg's encoder would claim 2, linear, for everything)."""
    if video.get("dpx_transfer") is not None:
        return int(video["dpx_transfer"]), int(video.get("dpx_colorimetric") or 0)
    transfer = {"linear": 2, "bt709": 6}.get(out_fmt.color_trc or "")
    primaries = {"bt709": 6, "bt470bg": 7, "smpte170m": 8}.get(out_fmt.color_primaries or "")
    if transfer is None and out_fmt.color_trc in ("smpte170m", "bt470bg", "bt470m"):
        transfer = primaries if primaries in (7, 8) else 7
    return transfer or 0, primaries or 0


def open_output_writer(output: Path, out_fmt: VideoFormat, settings, source: Path, report: dict, input_pix: str,
                       options: JobOptions, trim: "Trim | None" = None, frame_ratio: int = 1,
                       full_disk_advice: str | None = None) -> VideoWriter:
    """The final file's writer, carrying the source's sound, subtitles, timecode and tags (``full_disk_advice``:
    what the error on a full disk tells the user to do, when not the default)."""
    video = main_video_stream(report)
    # the source's video may start after its sound: keep that offset, or lip sync drifts by it
    video_offset = max(0.0, (video.get("start_time") or 0.0) - (report.get("start_time") or 0.0))
    timecode = video.get("timecode") or report.get("timecode")
    source_window = None
    if trim is not None:
        # sound and subtitles cut at the picture's first and last frame, on the source's own timeline
        source_window = (video_offset + trim.start_seconds, trim.duration_seconds)
        video_offset = 0.0
        if timecode and check_timecode(timecode, trim.fps) is None:
            timecode = shift_timecode(timecode, trim.start, trim.fps)
    extra: dict = {}
    if full_disk_advice is not None:
        extra["full_disk_advice"] = full_disk_advice
    if video.get("dpx_transfer") is not None and settings.container == "matroska":
        from restore.media.sequence import DPX_CODES

        # the DPX header's codes, which no Matroska colour field holds, as stream tags
        extra["tags"] = {"DPX_TRANSFER": f"{DPX_CODES.get(video['dpx_transfer'], 'reserved')} "
                                         f"({video['dpx_transfer']})",
                         "DPX_COLORIMETRIC": f"{DPX_CODES.get(video.get('dpx_colorimetric'), 'reserved')} "
                                             f"({video.get('dpx_colorimetric')})"}
    if is_sequence_output(output):
        # frames numbered as the source's: a sequence's own numbers, a video's frame numbers
        first = options.sequence.first if options.sequence is not None else 0
        extra["start_number"] = (first + (trim.start if trim else 0)) * frame_ratio
        extra["dpx_codes"] = dpx_codes(video, out_fmt)
    return VideoWriter(output, out_fmt, settings, source=source if options.sequence is None else None,
                       source_report=report, input_pix=input_pix,
                       queue_size=options.queue_size, overwrite=options.overwrite, timecode=timecode,
                       source_video=video, video_offset=video_offset, source_window=source_window, **extra)


@dataclass(frozen=True)
class Trim:
    """Part of the source, by input frame numbers: ``--start``, ``--duration`` / ``--frames``."""

    start: int
    frames: int
    fps: Fraction

    @property
    def start_seconds(self) -> float:
        return float(self.start / self.fps)

    @property
    def duration_seconds(self) -> float:
        return float(self.frames / self.fps)

    def describe(self) -> str:
        return (f"trimmed to source frames {self.start}-{self.start + self.frames - 1} "
                f"({self.start_seconds:.3f}-{self.start_seconds + self.duration_seconds:.3f} s); sound, subtitles "
                "and timecode cut to match")

    def as_dict(self) -> dict:
        return {"start_frame": self.start, "frames": self.frames, "start_seconds": round(self.start_seconds, 6),
                "duration_seconds": round(self.duration_seconds, 6)}


def plan_trim(options: JobOptions, fmt: VideoFormat, timing: Timing, total: int | None, source: Path) -> Trim | None:
    """The part of the source a run restores, checked against its length (None: all of it)."""
    if options.start is None and options.duration is None and options.frames is None:
        return None
    if options.duration is not None and options.frames is not None:
        raise UsageError("give --duration or --frames, not both")
    if timing.conform is not None or total is None:
        raise InputError(f"{source}: trims need a constant-rate source with every frame present (this one is "
                         "variable-rate or has gaps): restore it whole, or conform it first")
    try:
        start = parse_position(options.start, fmt.fps, "--start") if options.start is not None else 0
        count = options.frames if options.frames is not None else (
            parse_position(options.duration, fmt.fps, "--duration") if options.duration is not None else total - start)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if start >= total:
        raise UsageError(f"--start {options.start} is frame {start}, past the end of {source.name} ({total} frames)")
    if count < 1:
        raise UsageError("the trim holds no frame: --duration/--frames must be at least one frame")
    if start + count > total:
        raise UsageError(f"the trim ends at frame {start + count - 1}, past the end of {source.name} ({total} "
                         f"frames, the last is {total - 1})")
    return Trim(start, count, fmt.fps)


@dataclass(frozen=True)
class RunFacts:
    """What a finished run hands to ``finish_job``: whole-file and segmented runs alike."""

    source: Path
    output: Path
    spec: PipelineSpec
    options: JobOptions
    stages: list[dict]              # Pipeline.describe()
    device: str
    started: datetime.datetime      # wall clock, for the record
    t_start: float                  # time.perf_counter() at the start, for the run's seconds
    frames_in: int
    frames_out: int
    report: dict                    # the source's probe
    src_fmt: VideoFormat
    out_fmt: VideoFormat
    settings: EncodeSettings
    notes: list[str]
    stage_timings: list[dict]
    energy: dict | None = None
    frames_log: Path | None = None  # OUT.frames.jsonl (its final name)
    staged: Path | None = None      # the output still under its temporary name
    warnings: list[str] = field(default_factory=list)
    filled: list[dict] = field(default_factory=list)
    decoder_messages: list[str] = field(default_factory=list)
    trim: Trim | None = None
    captions: dict | None = None
    corrections: list[dict] | None = None


def finish_job(facts: RunFacts) -> JobResult:
    """The run record and provenance of a written output (shared by whole-file and segmented runs).

    ``facts.staged``: the output still under its temporary name; provenance is then written beside it under
    temporary names too, and ``result.provenance["pending"]`` says what to publish (output last)."""
    f = facts
    notes = f.notes
    warnings = list(f.warnings)
    if f.trim is None:
        _check_duration(f.report, main_video_stream(f.report), f.output, f.out_fmt, f.frames_out, notes)
    finished = utc_now()
    result = JobResult(output=f.output, frames_in=f.frames_in, frames_out=f.frames_out,
                       seconds=time.perf_counter() - f.t_start, source_format=f.src_fmt, output_format=f.out_fmt,
                       notes=notes, warnings=warnings, stage_timings=f.stage_timings)
    result.record = {
        "restore_version": __version__,
        "pipeline": {"name": f.spec.name, "path": f.spec.source, "yaml": f.spec.text, "spec": f.spec.as_dict()},
        "stages": f.stages,
        "device": f.device,
        "started": f.started.isoformat(),
        "finished": finished.isoformat(),
        "frames": {"in": f.frames_in, "out": f.frames_out},
        "source_probe": f.report,
        "output_format": {**_format_dict(f.out_fmt), **f.settings.describe()},
        "colour": {"source": colour.describe(f.src_fmt), "output": colour.describe(f.out_fmt),
                   "notes": [n for n in notes if n.startswith("colour:")]},
        "notes": notes,
        "warnings": warnings,
        "filled_frames": list(f.filled),
        "trim": f.trim.as_dict() if f.trim is not None else None,
        "captions": f.captions,
        "source_decoder_messages": list(f.decoder_messages)[:200],
        "stage_timings": f.stage_timings,
        "frames_log": str(f.frames_log) if f.frames_log is not None else None,
        "energy": f.energy,
        "metrics": None,
    }
    if f.options.provenance and is_sequence_output(f.output):
        target = writer_target(f.output)
        notes.append(f"image sequence: provenance in {target.folder}/{target.name}.provenance.json with every frame's "
                     f"sha256 in {target.name}.sha256; not signed (C2PA binds single files)")
    if f.corrections:
        from restore.corrections import record_entries

        # each becomes a PREMIS event and a C2PA action (restore.provenance.finalize)
        result.record["corrections"] = record_entries(f.corrections)
    if f.options.provenance:
        from restore.provenance.finalize import finalize_output   # here: it loads c2pa

        result.provenance = finalize_output(output=f.output, source=f.source, record=result.record,
                                            sign=f.options.sign, embed=True, staged=f.staged,
                                            source_sequence=f.options.sequence)
    return result


def frames_log_path(output: Path, folder: Path | None = None) -> Path:
    """``OUT.frames.jsonl`` beside a file; ``NAME.frames.jsonl`` in an output sequence's folder (``folder``:
    where that folder is being written)."""
    if is_sequence_output(output):
        target = writer_target(output)
        return (folder or target.folder) / f"{target.name}.frames.jsonl"
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


def _start_energy_meter(device: str | None = None) -> EnergyMeter:
    return EnergyMeter(device=device).start()
