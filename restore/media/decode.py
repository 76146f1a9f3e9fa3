"""Decoding: the main video stream as a bounded stream of frames over an ffmpeg pipe.

A reader thread pulls raw frames from ffmpeg and converts them while the pipeline
works on earlier ones; the queue between them holds at most ``queue_size`` frames,
so memory does not grow with the length of the video.
"""

from __future__ import annotations

import collections
import io
import os
import queue
import re
import subprocess
import threading
from fractions import Fraction
from pathlib import Path
from typing import IO, Iterator, cast

import numpy as np

from restore.errors import InputError
from restore.frame import Frame, VideoFormat
from restore.media import pixfmt
from restore.media.tools import require_ffmpeg

_END = object()


def sws_flags() -> str:
    # accurate_rnd/full_chroma_int: no shortcuts in YUV↔RGB; bitexact: same bytes on every CPU
    return "accurate_rnd+full_chroma_int+full_chroma_inp+bitexact+spline"


def rgb_decode_filter(fmt: VideoFormat, rgb_pix: str, extra: str | None = None) -> str:
    cw, ch = pixfmt.chroma_shift(fmt.pix_fmt) if not pixfmt.is_rgb(fmt.pix_fmt) else (0, 0)
    interl = ":interl=1" if fmt.interlaced and ch > 0 else ""  # 4:2:0 interlaced chroma belongs to fields
    chain = [extra] if extra else []
    # the matrix and range we resolved for the source, spelled out: for an untagged file swscale would
    # pick BT.601 limited whatever its size, and a job must decode exactly what it tags and records
    chain.append(f"scale=in_color_matrix={pixfmt.colour_matrix(fmt)}:in_range={pixfmt.colour_range(fmt)}"
                 f":out_range=pc{interl},format={rgb_pix}")
    return ",".join(chain)


class VideoReader:
    """Iterates the frames of ``path``'s main video stream.

    mode "rgb": float32 RGB frames in [0, 1] (8-bit sources via rgb24, deeper via rgb48).
    mode "native": the decoded samples in their planar layout, bit-exact (pass-through).
    ``conform_fps``: resample a variable-rate stream onto this constant rate.
    ``start_frame``: the first frame to deliver (counted in decoding order from the top).
    ``start_pts``: that frame's exact presentation time in seconds, as stored in the file (from its
    packet index): decoding then starts at a keyframe just before it instead of at the top of the
    file, and frames are picked by timestamp, so the start stays frame-exact.
    """

    def __init__(self, path: str | os.PathLike[str], fmt: VideoFormat, *, mode: str = "rgb",
                 conform_fps: Fraction | None = None, queue_size: int = 8, max_frames: int | None = None,
                 start_frame: int = 0, start_pts: float | None = None, threads: int = 0,
                 input_args: list[str] | None = None):
        self.path = Path(path)
        self.fmt = fmt
        self.mode = mode
        self.max_frames = max_frames
        self.start_frame = start_frame
        self.frames_read = 0
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max(1, queue_size))
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=20)
        self._messages: list[str] = []      # the decoder's complaints, the first MAX_MESSAGES of them
        self.message_count = 0
        self._closed = False

        vf = []
        if conform_fps is not None:
            vf.append(f"fps={conform_fps.numerator}/{conform_fps.denominator}")
        if mode == "native":
            self.pix_fmt = pixfmt.planar_equivalent(fmt.pix_fmt, fmt.bit_depth)
            self.frame_bytes = pixfmt.raw_frame_size(self.pix_fmt, fmt.width, fmt.height)
            filt = ",".join(vf + [f"format={self.pix_fmt}"])
        else:
            self.pix_fmt = "rgb24" if fmt.bit_depth <= 8 else "rgb48le"
            self._white = pixfmt.rgb16_white() if self.pix_fmt == "rgb48le" else 255
            self.frame_bytes = fmt.width * fmt.height * 3 * (1 if fmt.bit_depth <= 8 else 2)
            filt = rgb_decode_filter(fmt, self.pix_fmt, ",".join(vf) or None)
        seek: list[str] = []
        if start_frame and start_pts is not None and conform_fps is None:
            # jump to the keyframe before the frame on the file's own timeline (-seek_timestamp, -copyts:
            # no start-time offsets; -noaccurate_seek: ffmpeg's own trimming miscounts offset streams),
            # then select the frame by its exact stored time, with half a frame of tolerance
            # one second early: an open GOP's leading B-frames (undecodable after a seek) stay before it
            half = float(1 / fmt.fps) / 2
            seek = ["-seek_timestamp", "1", "-ss", f"{max(0.0, start_pts - 1.0 - 4 * half):.6f}",
                    "-noaccurate_seek", "-copyts"]
            filt = f"select=gte(t\\,{start_pts - half:.6f})," + filt
        elif start_frame:
            # frame-exact start without an index: select by decoded index (decodes from the top)
            filt = f"select=gte(n\\,{start_frame})," + filt
        # input_args: how ffmpeg opens an image sequence (restore.media.sequence); a file is "-i PATH"
        cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-threads", str(threads), *seek,
               *(input_args or ["-i", str(self.path)]), "-map", "0:v:0", "-an", "-sn", "-dn",
               "-sws_flags", sws_flags(), "-vf", filt, "-fps_mode", "passthrough" if conform_fps is None else "cfr"]
        if max_frames is not None:
            cmd += ["-frames:v", str(max_frames)]
        cmd += ["-f", "rawvideo", "-pix_fmt", self.pix_fmt, "pipe:1"]
        self.command = cmd
        require_ffmpeg()
        self._proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
        assert self._proc.stdout is not None and self._proc.stderr is not None     # both are pipes
        self._stdout = cast(io.RawIOBase, self._proc.stdout)    # bufsize=0: unbuffered, has readinto
        self._stderr: IO[bytes] = self._proc.stderr
        self._err_thread = threading.Thread(target=self._drain_stderr, daemon=True)
        self._err_thread.start()
        self._thread = threading.Thread(target=self._read_loop, name="restore-decode", daemon=True)
        self._thread.start()

    # --- producer side ------------------------------------------------------------
    MAX_MESSAGES = 200

    def _drain_stderr(self) -> None:
        for line in iter(self._stderr.readline, b""):
            text = line.decode("utf-8", "replace").rstrip()
            self._stderr_tail.append(text)
            if text.strip():
                self.message_count += 1
                if len(self._messages) < self.MAX_MESSAGES:
                    # "[ffv1 @ 0x55d…] slice CRC mismatch" → "ffv1: slice CRC mismatch" (addresses differ per run)
                    self._messages.append(re.sub(r"^\[([\w,]+) @ 0x[0-9a-f]+\] ", r"\1: ", text))

    def _read_exact(self, buf: bytearray) -> int:
        view = memoryview(buf)
        got = 0
        while got < len(buf):
            n = self._stdout.readinto(view[got:])
            if not n:
                break
            got += n
        return got

    def _to_frame(self, index: int, buf: bytearray) -> Frame:
        pts = self.start_frame_pts(index)
        if self.mode == "native":
            return Frame(index=index, pts=pts, raw=bytes(buf))
        w, h = self.fmt.width, self.fmt.height
        if self.pix_fmt == "rgb24":
            img = np.frombuffer(buf, dtype=np.uint8).reshape(h, w, 3).astype(np.float32) * (1.0 / 255.0)
        else:
            # swscale's own 16-bit white, not 65535 (see pixfmt.rgb16_white); super-whites clip to 1
            img = np.frombuffer(buf, dtype="<u2").reshape(h, w, 3).astype(np.float32) * (1.0 / self._white)
            np.minimum(img, 1.0, out=img)
        return Frame(index=index, pts=pts, image=img)

    def start_frame_pts(self, index: int) -> Fraction:
        return Fraction(index) / self.fmt.fps

    def _put(self, item: object) -> bool:
        while not self._closed:
            try:
                self._queue.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def _read_loop(self) -> None:
        index = self.start_frame
        try:
            while not self._closed:
                buf = bytearray(self.frame_bytes)
                got = self._read_exact(buf)
                if got == 0:
                    break
                if got < self.frame_bytes:
                    raise InputError(f"{self.path}: frame {index} is incomplete ({got} of {self.frame_bytes} bytes): "
                                     "the input is truncated or damaged")
                if not self._put(self._to_frame(index, buf)):
                    return
                index += 1
                self.frames_read += 1
            rc = self._proc.wait()
            if rc != 0 and not self._closed:
                detail = self._stderr_tail[-1] if self._stderr_tail else f"ffmpeg exit code {rc}"
                raise InputError(f"{self.path}: decoding failed after {self.frames_read} frames ({detail})")
            self._put(_END)
        except BaseException as exc:  # hand the failure to the consumer, who raises it
            self._put(exc)

    # --- consumer side -------------------------------------------------------------
    def __iter__(self) -> Iterator[Frame]:
        try:
            while True:
                item = self._queue.get()
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield cast(Frame, item)
        finally:
            self.close()

    def errors(self) -> list[str]:
        """What the decoder (and demuxer) said about the source: damage it concealed, timestamps it
        could not place. The first ``MAX_MESSAGES``; ``message_count`` has them all."""
        self._err_thread.join(timeout=1)
        return list(self._messages)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        self._thread.join(timeout=5)
        self._err_thread.join(timeout=1)
        for stream in (self._proc.stdout, self._proc.stderr):
            if stream:
                stream.close()

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_frames(path: str | os.PathLike[str], max_frames: int | None = None, queue_size: int = 8) -> Iterator[Frame]:
    """Convenience: float32 RGB frames of ``path`` (for analysis, review, tests)."""
    from restore.media.probe import probe, video_format

    fmt = video_format(probe(path, count=False))
    yield from VideoReader(path, fmt, mode="rgb", max_frames=max_frames, queue_size=queue_size)
