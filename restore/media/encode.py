"""Encoding: frames back into a file, with the source's sound, subtitles, timecode and tags.

``.mkv`` → FFV1 version 3 preservation master (intra-only, slice CRCs);
``.mp4``/``.mov`` → H.264 (or H.265) access copy. The file is written under a
hidden temporary name beside the target; a job checks its frame count, embeds and
signs its record there, and only then ``publish`` renames it into place, so an
interrupted run or a full disk never leaves a partial or unsigned file under the
final name.
"""

from __future__ import annotations

import collections
import errno
import functools
import json
import os
import queue
import re
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, Sequence, cast

import numpy as np

from restore.errors import OutputError
from restore.frame import Frame, VideoFormat
from restore.media import codecs, colour, pixfmt
from restore.media.decode import sws_flags
from restore.media.streams import StreamPlan, check_timecode, global_tag_args, plan_streams

if TYPE_CHECKING:
    from restore.media.sequence import SequenceTarget

_END = object()
_FIELD_MODE = {"tt": "tff", "tb": "tff", "bb": "bff", "bt": "bff", "progressive": "prog"}


@dataclass
class EncodeSettings:
    container: str                 # a muxer of restore.media.codecs.CONTAINERS
    codec: str                     # a name of restore.media.codecs.CODECS
    pix_fmt: str                   # pixel format written to the file
    crf: int = 18
    preset: str = "medium"
    notes: list[str] = field(default_factory=list)

    @property
    def spec(self) -> codecs.Codec:
        return codecs.codec(self.codec)

    def describe(self) -> dict[str, Any]:
        spec = self.spec
        return {"container": self.container, "codec": self.codec, "codec_label": spec.label,
                "encoder": spec.encoder, "pix_fmt": self.pix_fmt, "lossless": spec.lossless, "role": spec.role,
                **({"crf": self.crf, "preset": self.preset} if spec.crf is not None else {})}


def container_for(path: Path) -> str:
    found = codecs.container_for_extension(path.suffix)
    if found is None:
        kinds = "; ".join(f"{'/'.join(c.extensions)} ({c.default_codec})" for c in codecs.CONTAINERS.values())
        raise OutputError(f"unsupported output type '{path.suffix or path.name}': use {kinds}")
    return found.name


def choose_settings(path: Path, out_fmt: VideoFormat, *, codec: str | None = None, bit_depth: int | None = None,
                    crf: int | None = None, chroma: str | None = None) -> EncodeSettings:
    """Codec and pixel format for ``path`` given the frames' format and the pipeline's wishes
    (``bit_depth``: at least this many bits; ``chroma``: 4:2:0/4:2:2/4:4:4 for codecs that offer a choice)."""
    container = container_for(path)
    name = codec or codecs.default_codec_for(path.suffix)
    if name is None:
        raise OutputError(f"no codec for {path.suffix} outputs: choose one with --codec")
    spec = codecs.codec(name)
    if container not in spec.containers or (spec.extensions and path.suffix.lower() not in spec.extensions):
        where = " or ".join(spec.extensions) if spec.extensions else \
            " or ".join("/".join(codecs.CONTAINERS[c].extensions) for c in spec.containers)
        raise OutputError(f"{spec.label} goes into {where}, not {path.suffix}: rename the output or choose "
                          f"another --codec")
    w, h = out_fmt.width, out_fmt.height
    if (spec.even_width and w % 2) or (spec.even_height and h % 2):
        raise OutputError(f"odd frame size {w}x{h} cannot be encoded as {spec.label} (subsampled chroma): write "
                          "an .mkv master or crop/pad to even dimensions")
    if w < spec.min_size[0] or h < spec.min_size[1]:
        raise OutputError(f"{spec.label} needs frames of at least {spec.min_size[0]}x{spec.min_size[1]}, these are "
                          f"{w}x{h}: write an .mkv master instead")
    pix = spec.pix_fmt(out_fmt.pix_fmt, out_fmt.bit_depth, bit_depth, chroma)
    return EncodeSettings(container, spec.name, pix, crf=crf or spec.crf or 18)


def rgb_pipe_format(settings: EncodeSettings, fmt: VideoFormat) -> str:
    """RGB layout on the pipe to the encoder: 16-bit whenever the file keeps more than 8 bits."""
    deep = fmt.bit_depth > 8 or pixfmt.pixel_depth(settings.pix_fmt) > 8
    return "rgb48le" if deep else "rgb24"


def check_output_path(output: Path, inputs: list[Path], overwrite: bool) -> None:
    parent = output.parent if str(output.parent) else Path(".")
    for src in inputs:
        try:
            if src.exists() and output.exists() and os.path.samefile(src, output):
                raise OutputError(f"refusing to write over the input {src}")
        except OSError:
            pass
        if src.resolve() == output.resolve():
            raise OutputError(f"refusing to write over the input {src}")
    if not parent.is_dir():
        raise OutputError(f"output folder does not exist: {parent}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"output folder is not writable: {parent}")
    if output.exists() and not overwrite:
        raise OutputError(f"output exists: {output} (use --overwrite to replace it)")
    if output.is_dir():
        raise OutputError(f"output is a folder: {output}")


def partial_name(output: Path) -> Path:
    return output.with_name(f".{output.stem}.partial-{os.getpid()}{output.suffix}")


def claim(path: Path) -> None:
    """Create ``path`` empty, as a new regular file of ours: something planted under our temporary name
    (a symlink pointing elsewhere) is removed, not written through (ffmpeg -y follows symlinks)."""
    if path.is_symlink() or path.exists():
        path.unlink()
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644))
    except OSError as exc:
        full = out_of_space(path.parent, exc)
        if full is not None:
            raise full from None
        raise OutputError(f"cannot create {path}: {exc.strerror}") from None


def publish_output(staged: Path, output: Path, overwrite: bool,
                   companions: Sequence[tuple[Path, Path]] = ()) -> Path:
    """The last step of a run: rename each finished companion (provenance files) and then the output
    itself into place. Until this moment nothing of the run sits under a final name; the output goes
    last, so it never appears without its record."""
    if output.exists() and not overwrite:
        raise OutputError(f"output appeared while we worked: {output} (use --overwrite)")
    for tmp, final in companions:
        os.replace(tmp, final)
    os.replace(staged, output)
    return output


def staging_name(path: Path) -> Path:
    """The temporary name a companion file of an output is written under until ``publish_output``."""
    return path.with_name(f".{path.name}.partial-{os.getpid()}")


class OutOfSpaceError(OutputError):
    """A write failed because the disk holding the output is full (``out_of_space``)."""


NOTHING_WRITTEN = "nothing was written under the output's name; free some space and run the same command again"


def out_of_space(folder: Path, exc: BaseException, reserve: int = 1 << 20,
                 advice: str = NOTHING_WRITTEN) -> OutputError | None:
    """A clear reason when a write failed because the disk is full (ffmpeg does not always say so):
    the error itself says ENOSPC, or less than ``reserve`` bytes are left where we write (None: it did not,
    or the error already says so)."""
    if isinstance(exc, OutOfSpaceError):
        return None
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT) or "No space left" in str(exc):
        free = 0
    else:
        try:
            free = shutil.disk_usage(folder).free
        except OSError:
            return None
        if free >= reserve:
            return None
    return OutOfSpaceError(f"no space left on the device holding {folder} ({free} bytes free): {advice}")


def remove_stale_partials(output: Path) -> list[Path]:
    """Temporary files a killed run left beside ``output`` (its process is gone): delete them.

    They are the output's own (``.STEM.partial-PID.EXT``) and its companions' (``.NAME.….partial-PID``,
    ``.STEM.c2pa.partial-PID``); a file whose process still runs belongs to another run and stays."""
    removed = []
    own = re.compile(re.escape(f".{output.stem}.partial-") + r"(\d+)" + re.escape(output.suffix) + "$")
    companion = re.compile(r"^\.(?:" + re.escape(output.name) + r"\..+|" + re.escape(output.stem)
                           + r"\.c2pa)\.partial-(\d+)$")
    for path in output.parent.glob(f".{output.stem}*.partial-*"):
        m = own.match(path.name) or companion.match(path.name)
        if m is None or int(m[1]) == os.getpid():
            continue
        try:
            os.kill(int(m[1]), 0)
            continue  # still running: another run's file
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        path.unlink(missing_ok=True)
        removed.append(path)
    return removed


class VideoWriter:
    """Streams frames into ffmpeg; ``finish`` checks the result and renames it into place.

    Use it as a context manager: an exception inside the ``with`` block aborts it (ffmpeg killed, the
    temporary output removed, also a staged one that ``finish(publish=False)`` returned and that was not
    published yet), and a failure on a full disk is raised as ``out_of_space``'s clear reason whatever it
    looked like (free space measured before the abort frees the temporary file; ``full_disk_advice`` says
    what to do). The successful path stays explicit: ``finish`` publishes, or returns the staged path.

    >>> with VideoWriter(out, fmt, settings) as writer:
    ...     for frame in frames:
    ...         writer.write(frame)
    ...     staged = writer.finish(count, publish=False)
    ...     publish_output(staged, out, overwrite=False)
    """

    def __init__(self, output: Path, out_fmt: VideoFormat, settings: EncodeSettings, *,
                 source: Path | None = None, source_report: dict[str, Any] | None = None, input_pix: str = "rgb24",
                 queue_size: int = 8, threads: int = 0, overwrite: bool = False, timecode: str | None = None,
                 source_video: dict[str, Any] | None = None, video_offset: float = 0.0,
                 source_window: tuple[float, float] | None = None, start_number: int = 0,
                 dpx_codes: tuple[int, int] | None = None, tags: dict[str, str] | None = None,
                 full_disk_advice: str = NOTHING_WRITTEN):
        self.output = Path(output)
        self.full_disk_advice = full_disk_advice
        # every file we write names its colour; a job has settled the tags already (restore.media.colour),
        # other callers get the same convention the conversion below would use
        self.fmt = colour.resolve_source(out_fmt)[0]
        self.settings = settings
        self.input_pix = input_pix
        self.overwrite = overwrite
        self.frames_written = 0
        # an image sequence (-o out/frame_%06d.dpx) is written into a hidden folder beside out/ and renamed to
        # out/ when finished; a file, under a hidden name beside it
        self.sequence = codecs.CONTAINERS[settings.container].sequence
        self.dpx_codes = dpx_codes
        self.target: SequenceTarget | None = None
        if self.sequence:
            from restore.media import sequence as seqmod

            self.target = target = seqmod.sequence_target(self.output)
            seqmod.remove_stale_staging(target)
            self.temp = target.staging()
            if self.temp.is_symlink() or self.temp.is_file():
                self.temp.unlink()
            elif self.temp.exists():
                shutil.rmtree(self.temp)
            try:
                os.mkdir(self.temp, 0o755)
            except OSError as exc:
                full = out_of_space(self.temp.parent, exc)
                if full is not None:
                    raise full from None
                raise OutputError(f"cannot create {self.temp}: {exc.strerror}") from None
        else:
            self.temp = partial_name(self.output)
            remove_stale_partials(self.output)
            claim(self.temp)
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max(1, queue_size))
        self._error: BaseException | None = None
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=30)
        self.stream_notes: list[str] = []
        self.stream_warnings: list[str] = []
        self.expected_audio = 0
        self._extras: tempfile.TemporaryDirectory[str] | None = None     # cover art copied out of the source
        self.rotation = (source_video or {}).get("rotation")
        self.timecode = timecode

        cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
               "-f", "rawvideo", "-pix_fmt", input_pix, "-s", f"{out_fmt.width}x{out_fmt.height}",
               "-framerate", f"{out_fmt.fps.numerator}/{out_fmt.fps.denominator}"]
        if video_offset > 0:
            cmd += ["-itsoffset", f"{video_offset:.6f}"]
        cmd += ["-i", "pipe:0"]
        if self.sequence:
            # pictures only: every other stream of the source is named in a warning (plan_streams)
            if source_report is not None:
                plan = plan_streams(source_report, settings.container, input_index=1,
                                    main_video=(source_video or {}).get("index"))
                self.stream_notes, self.stream_warnings = plan.notes, plan.warnings
            cmd += ["-map", "0:v:0", "-map_metadata", "-1"]
        elif source is not None and source_report is not None:
            streams_from, streams_report, main_index = source, source_report, (source_video or {}).get("index")
            timed = [st for st in source_report["streams"] if st["type"] in ("audio", "subtitle")]
            if source_window is not None and timed:
                streams_from, streams_report = self._cut(source, source_report, *source_window)
                main_index = None
            cmd += ["-i", str(streams_from)]
            plan = plan_streams(streams_report, settings.container, input_index=1, main_video=main_index)
            self.stream_notes = plan.notes
            self.stream_warnings = plan.warnings
            self.expected_audio = plan.audio
            cmd += ["-map", "0:v:0", *plan.args, "-map_metadata", "-1", "-map_chapters", "1",
                    *global_tag_args(source_report)]
            cmd += self._cover_attachments(source, plan)
        else:
            cmd += ["-map", "0:v:0", "-map_metadata", "-1"]
        # ":0": options for our picture only; cover art after it is stream-copied
        cmd += ["-sws_flags", sws_flags(), "-filter:v:0", self._video_filter(), *self._codec_args(threads)]
        for key, value in (tags or {}).items():
            cmd += ["-metadata:s:v:0", f"{key}={value}"]
        if source_video:
            for key in ("language", "title"):
                if source_video.get(key):
                    cmd += ["-metadata:s:v:0", f"{key}={source_video[key]}"]
        if self.sequence and timecode:
            self.stream_warnings.append(f"the source's timecode {timecode[:40]!r} is not written into the image "
                                        "files (ffmpeg writes none into DPX, TIFF, PNG or EXR); it is in the record")
            timecode = self.timecode = None
        if self.sequence and self.rotation:
            self.stream_warnings.append(f"display rotation {self.rotation}° left out: image files have no rotation "
                                        "field; the frames are written as recorded (unrotated)")
            self.rotation = None
        if timecode and check_timecode(timecode, out_fmt.fps):
            self.stream_warnings.append(f"the source's timecode {timecode[:40]!r} left out: "
                                        f"{check_timecode(timecode, out_fmt.fps)}, which no file can carry")
            timecode = self.timecode = None
        if timecode:
            cmd += ["-timecode", timecode]
        if self.rotation:
            if settings.container == "matroska":
                # Matroska has no display rotation: a tag keeps the fact (ffmpeg drops one named "rotate" when
                # encoding), players show the frames as stored
                cmd += ["-metadata:s:v:0", f"DISPLAY_ROTATION={self.rotation}"]
                self.stream_warnings.append(
                    f"display rotation {self.rotation}° kept only as a DISPLAY_ROTATION tag: Matroska has no rotation "
                    "field, so players show the frames as recorded (unrotated)")
            else:
                self.stream_notes.append(f"display rotation {self.rotation}° kept")
        if self.sequence:
            cmd += ["-f", "image2", "-start_number", str(start_number),
                    str(self.temp / self._sequence_target().pattern)]
        else:
            cmd += ["-f", settings.container, str(self.temp)]
        self.command = cmd
        try:
            self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
        except OSError as exc:
            raise OutputError(f"cannot start ffmpeg: {exc}") from None
        assert self._proc.stdin is not None and self._proc.stderr is not None     # both are pipes
        self._stdin: IO[bytes] = self._proc.stdin
        self._stderr: IO[bytes] = self._proc.stderr
        self._err_thread = threading.Thread(target=self._drain_stderr, daemon=True)
        self._err_thread.start()
        self._thread = threading.Thread(target=self._write_loop, name="restore-encode", daemon=True)
        self._thread.start()

    # --- command construction --------------------------------------------------------
    def _cut(self, source: Path, report: dict[str, Any], start: float, duration: float) -> tuple[Path, dict[str, Any]]:
        """A trim: the source's other streams cut to the picture's window, bit-exact (stream copy), in a
        temporary file. Cutting after reading (output-side -ss) is exact to a packet; an input-side seek
        would start at the previous video keyframe (Matroska cues index video only)."""
        from restore.media.probe import probe

        if self._extras is None:
            self._extras = tempfile.TemporaryDirectory(prefix="restore-cut-")
        cut = Path(self._extras.name) / "streams.mkv"
        # V (not v): cover art stays; data tracks (timecode) are carried from the source's own report
        res = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(source), "-map", "0", "-map", "-0:V",
                              "-map", "-0:d", "-c", "copy", "-ss", f"{start:.6f}", "-t", f"{duration:.6f}",
                              "-f", "matroska", "-y", str(cut)], capture_output=True, text=True)
        if res.returncode != 0:
            raise OutputError(f"cannot cut the source's sound and subtitles to the trim: "
                              f"{(res.stderr.strip().splitlines() or ['no message'])[-1]}")
        cut_report = probe(cut, count=False)
        cut_report["tags"] = report.get("tags") or {}
        return cut, cut_report

    def _cover_attachments(self, source: Path, plan: StreamPlan) -> list[str]:
        """Cover art for Matroska: each picture copied out of the source and attached as an image."""
        args: list[str] = []
        index = plan.attachments
        if not plan.attach:
            return args
        if self._extras is None:
            self._extras = tempfile.TemporaryDirectory(prefix="restore-covers-")
        folder = Path(self._extras.name)
        for stream, name, mime in plan.attach:
            picture = folder / name
            res = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(source), "-map", f"0:{stream}",
                                  "-c", "copy", "-frames:v", "1", "-f", "image2", "-y", str(picture)],
                                 capture_output=True)
            if res.returncode != 0 or not picture.is_file() or picture.stat().st_size == 0:
                self.stream_warnings.append(f"cover art (stream {stream}) left out: it could not be copied out "
                                            "of the source")
                continue
            args += ["-attach", str(picture), f"-metadata:s:t:{index}", f"mimetype={mime}",
                     f"-metadata:s:t:{index}", f"filename={name}"]
            self.stream_notes.append(f"cover art (stream {stream}) kept as the attachment {name}")
            index += 1
        return args

    def _video_filter(self) -> str:
        fmt, out_pix = self.fmt, self.settings.pix_fmt
        rgb_out = pixfmt.is_rgb(out_pix)
        chain = []
        if self.input_pix != out_pix:
            interl = ""
            if fmt.interlaced and not rgb_out and pixfmt.chroma_shift(out_pix)[1] > 0:
                interl = ":interl=1"
            if rgb_out:
                chain.append(f"format={out_pix}")
            elif pixfmt.is_rgb(self.input_pix):
                # RGB → YUV with the matrix and range the file is tagged with, never swscale's default
                chain.append(f"scale=in_range=pc:out_color_matrix={pixfmt.colour_matrix(fmt)}"
                             f":out_range={pixfmt.colour_range(fmt)}{interl},format={out_pix}")
            else:
                # native samples (pass-through) into another layout: same matrix, same range, only
                # subsampling or depth change (an auto-inserted scaler would squeeze full range to limited)
                rng = pixfmt.colour_range(fmt)
                chain.append(f"scale=in_range={rng}:out_range={rng}{interl},format={out_pix}")
        sar = fmt.sar
        chain.append(f"setsar={sar.numerator}/{sar.denominator}")
        # setparams: the only way the colour tags reach an FFV1 stream (the -color_* output options do not)
        params = [f"field_mode={_FIELD_MODE.get(fmt.field_order, 'auto')}",
                  f"range={'pc' if rgb_out or pixfmt.colour_range(fmt) == 'pc' else 'tv'}",
                  f"color_primaries={fmt.color_primaries}", f"color_trc={fmt.color_trc}",
                  f"colorspace={'gbr' if rgb_out else fmt.colorspace}"]
        chain.append("setparams=" + ":".join(params))
        return ",".join(chain)

    def _codec_args(self, threads: int) -> list[str]:
        """The encoder's arguments, from the codec table; ":0" everywhere, so cover art after our picture
        is stream-copied untouched."""
        s, fmt = self.settings, self.fmt
        spec = s.spec
        args = ["-c:v:0", spec.encoder, *spec.args, "-threads", str(threads), "-pix_fmt:v:0", s.pix_fmt]
        if self.sequence:
            return args           # the colour tags travel on the frames (setparams); DPX codes are set after
        if spec.name == "ffv1":
            # slices by frame size (24 where the encoder takes them); the colour tags travel by setparams
            return args + ["-slices", str(ffv1_slices(fmt.width, fmt.height, s.pix_fmt))]
        primaries, trc, matrix = fmt.color_primaries, fmt.color_trc, fmt.colorspace
        if primaries is None or trc is None or matrix is None:
            raise ValueError("the output's colour tags are not settled (restore.media.colour.resolve_source)")
        args += ["-color_primaries", primaries, "-color_trc", trc, "-colorspace", matrix,
                 "-color_range", "pc" if pixfmt.colour_range(fmt) == "pc" else "tv"]
        if spec.crf is not None:
            args += ["-crf", str(s.crf)]
        if spec.encoder == "libx264":
            args += ["-profile:v:0", _X264_PROFILES.get(s.pix_fmt, "high")]
            if fmt.interlaced:
                args += ["-flags", "+ildct+ilme", "-x264-params", "tff=1" if fmt.top_field_first else "bff=1"]
        elif fmt.interlaced and spec.encoder in ("prores_ks", "dnxhd"):
            args += ["-flags", "+ildct"]
        if s.container in ("mp4", "mov"):
            args += ["-movflags", "+faststart"]
        return args

    # --- streaming ------------------------------------------------------------------
    def _drain_stderr(self) -> None:
        for line in iter(self._stderr.readline, b""):
            self._stderr_tail.append(line.decode("utf-8", "replace").rstrip())

    def _frame_bytes(self, frame: Frame) -> bytes:
        if self.input_pix in ("rgb24", "rgb48le"):
            img = frame.image
            if img is None or img.shape != (self.fmt.height, self.fmt.width, 3):
                got = None if img is None else img.shape
                raise ValueError(f"frame {frame.index} has shape {got}, expected "
                                 f"{(self.fmt.height, self.fmt.width, 3)}")
            if self.input_pix == "rgb24":
                return np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8).tobytes()
            # scaled to swscale's own 16-bit white (pixfmt.rgb16_white): 65535 would encode 0.4 % too bright
            return np.clip(img * float(pixfmt.rgb16_white()) + 0.5, 0, 65535).astype("<u2").tobytes()
        if frame.raw is None:
            raise ValueError(f"frame {frame.index} carries no native samples for a {self.input_pix} pipe")
        return frame.raw

    def _write_loop(self) -> None:
        try:
            while True:
                item = self._queue.get()
                if item is _END:
                    break
                self._stdin.write(self._frame_bytes(cast(Frame, item)))
                self.frames_written += 1
        except BaseException as exc:
            self._error = exc
            # keep draining so the producer never blocks on a dead consumer
            while self._queue.get() is not _END:
                pass
        finally:
            try:
                self._stdin.close()
            except OSError:
                pass

    def write(self, frame: Frame) -> None:
        if self._error is not None:
            self._raise_encoder_error()
        self._queue.put(frame)

    def _raise_encoder_error(self) -> None:
        self._proc.wait()
        self._err_thread.join(timeout=2)
        detail = "; ".join(ln for ln in list(self._stderr_tail)[-3:] if ln) or repr(self._error)
        if isinstance(self._error, ValueError):
            raise self._error
        if any(s in detail for s in ("No space left", "Permission denied", "Read-only file system",
                                     "Disk quota")):
            raise OutputError(f"cannot write {self.output}: {detail}")
        raise RuntimeError(f"encoder failed after {self.frames_written} frames: {detail}")

    def finish(self, expected_frames: int, publish: bool = True) -> Path:
        """Wait for ffmpeg and check the frame count; then rename into place (``publish=False``: leave it
        under its temporary name, returned, for the caller to finalize and ``publish``)."""
        self._queue.put(_END)
        self._thread.join()
        rc = self._proc.wait()
        self._err_thread.join(timeout=5)
        try:
            try:
                if self._error is not None or rc != 0:
                    if self._error is None:
                        self._error = RuntimeError(f"ffmpeg exit code {rc}")
                    self._raise_encoder_error()
                if self.frames_written != expected_frames:
                    raise RuntimeError(f"wrote {self.frames_written} frames, expected {expected_frames}")
                if self.rotation and self.settings.container != "matroska":
                    self._set_rotation()
                if self.sequence:
                    from restore.media import sequence as seqmod

                    written = seqmod.frame_files(self.temp, self._sequence_target())
                    if self.dpx_codes is not None and self.settings.codec == "dpx":
                        for path in written:
                            seqmod.set_dpx_transfer(path, *self.dpx_codes)
                    counted = len(written)
                else:
                    counted = count_video_packets(self.temp)
                if counted != expected_frames:
                    raise RuntimeError(f"the encoded file holds {counted} frames, expected {expected_frames}")
            except Exception as exc:
                # ffmpeg does not always say the disk filled up (a muxer write error can still exit 0,
                # leaving a short file): a short or failed write on a full disk is the user's to fix
                full = out_of_space(self.temp.parent, exc, advice=self.full_disk_advice)
                if full is not None:
                    raise full from exc
                raise
            if publish and self.sequence:
                from restore.media.sequence import publish_sequence

                return publish_sequence(self.temp, self._sequence_target(), self.overwrite)
            if publish:
                publish_output(self.temp, self.output, self.overwrite)
            return self.output if publish else self.temp
        except BaseException:
            self._remove_temp()
            raise
        finally:
            self._cleanup_extras()

    def _set_rotation(self) -> None:
        """ffmpeg 5.1 writes a display matrix only when stream-copying: a copy of the finished file sets it."""
        tmp = self.temp.with_name(self.temp.name + ".rotate" + self.temp.suffix)
        try:
            # every stream but the timecode track, which the muxer writes anew from the stream's timecode tag
            cmd = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(self.temp), "-map", "0", "-map", "-0:d", "-c", "copy",
                   "-map_metadata", "0", "-map_chapters", "0", "-metadata:s:v:0", f"rotate={self.rotation}",
                   "-movflags", "+faststart"]
            if self.timecode:
                cmd += ["-timecode", self.timecode]
            res = subprocess.run(cmd + ["-f", self.settings.container, "-y", str(tmp)], capture_output=True, text=True)
            if res.returncode != 0:
                raise RuntimeError(f"cannot set the display rotation: {res.stderr.strip()[-300:]}")
            os.replace(tmp, self.temp)
        finally:
            tmp.unlink(missing_ok=True)

    def _cleanup_extras(self) -> None:
        if self._extras is not None:
            self._extras.cleanup()
            self._extras = None

    def _sequence_target(self) -> SequenceTarget:
        if self.target is None:
            raise RuntimeError(f"{self.output} is not an image sequence")
        return self.target

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc is None:
            return
        # a short or failed write on a full disk is the user's to fix: measured before abort() frees the temp
        full = out_of_space(self.temp.parent, exc, advice=self.full_disk_advice) if isinstance(exc, Exception) \
            else None
        self.abort()
        if full is not None:
            raise full from exc

    def abort(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        try:
            while True:
                self._queue.get_nowait()
        except queue.Empty:
            pass
        self._queue.put(_END)
        self._thread.join(timeout=5)
        self._remove_temp()
        self._cleanup_extras()

    def _remove_temp(self) -> None:
        if self.sequence:
            shutil.rmtree(self.temp, ignore_errors=True)
        else:
            self.temp.unlink(missing_ok=True)


_X264_PROFILES = {"yuv420p": "high", "yuv420p10le": "high10", "yuv422p": "high422", "yuv422p10le": "high422",
                  "yuv444p": "high444", "yuv444p10le": "high444"}
FFV1_SLICES = 24           # what archives use for SD and HD: enough for threads, CRCs localise damage


@functools.lru_cache(maxsize=64)
def ffv1_slices(width: int, height: int, pix_fmt: str) -> int:
    """The FFV1 v3 slice count for a frame: 24 where the encoder accepts it, else the nearest it does.

    ffmpeg's FFV1 encoder lays slices out as a grid of h × v (v ≤ h < 2v) and refuses a count whose
    slices would be too small (frames of 8×8 and below) or hold more than 2^27 sample-bits
    (``maxw·maxh·(bits+1)·planes``: 16-bit RGB from 8192×8192 up). The size rule is mirrored here;
    for frames under 64 lines or columns, where the small-slice rule decides, each candidate is
    tried on one blank frame (milliseconds at that size) instead of guessing ffmpeg's arithmetic.
    """
    cw, ch = pixfmt.chroma_shift(pix_fmt) if not pixfmt.is_rgb(pix_fmt) else (0, 0)
    max_h, max_v = max(1, width >> cw), max(1, height >> ch)   # whole chroma samples per slice
    comps = int(pixfmt.descriptor(pix_fmt).get("nb_components", 3))
    planes = 1 if comps <= 2 and not pixfmt.is_rgb(pix_fmt) else 3
    bits = pixfmt.pixel_depth(pix_fmt)
    valid = set()
    for v in range(1, 32):
        for h in range(v, 2 * v):
            if h <= max_h and v <= max_v and -(-width // h) * -(-height // v) * (bits + 1) * planes <= 8 << 24:
                valid.add(h * v)
    # 24 or the fewest above it; for small frames, the most below it
    order = sorted(n for n in valid if n >= FFV1_SLICES) + sorted((n for n in valid if n < FFV1_SLICES),
                                                                  reverse=True)
    if min(width, height) >= 64:
        if order:
            return order[0]
    else:
        for n in order + [1]:
            if _ffv1_accepts(width, height, pix_fmt, n):
                return n
    raise OutputError(f"FFV1 cannot slice a {width}x{height} {pix_fmt} frame")


def _ffv1_accepts(width: int, height: int, pix_fmt: str, slices: int) -> bool:
    res = subprocess.run(["ffmpeg", "-nostdin", "-v", "quiet", "-f", "rawvideo", "-pix_fmt", pix_fmt, "-s",
                          f"{width}x{height}", "-i", "pipe:0", "-frames:v", "1", "-c:v", "ffv1", "-level", "3",
                          "-slicecrc", "1", "-slices", str(slices), "-f", "null", "-"],
                         input=bytes(pixfmt.raw_frame_size(pix_fmt, width, height)), capture_output=True)
    return res.returncode == 0


def count_video_packets(path: Path) -> int:
    """Frames in the first video stream, read from the packets (no decoding)."""
    res = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets",
                          "-show_entries", "stream=nb_read_packets", "-of", "json", str(path)],
                         capture_output=True, text=True)
    try:
        return int(json.loads(res.stdout)["streams"][0]["nb_read_packets"])
    except (KeyError, IndexError, ValueError, json.JSONDecodeError):
        return -1
