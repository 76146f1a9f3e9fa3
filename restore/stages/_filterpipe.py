"""Frames through an external filter process (ffmpeg or the VapourSynth worker).

Written once and shared by every stage that hands frames to another process: one
loop over non-blocking pipes writes the pixels of upstream frames to the process's
stdin and reads filtered pixels back from its stdout, re-attaching the timing and
identity of the input frame each output frame came from. Only the pixels in flight
inside the pipes and the process exist at any time (bounded memory); the per-frame
metadata queue holds no pixels.

Cost of the wire formats (720×576, measured on 2 cores): float32 → rgb48le and
back is ~4 ms per frame each way in numpy; float32 planar (the VapourSynth wire)
is a transpose copy, ~2 ms. Both are small next to the filters they feed.
"""

from __future__ import annotations

import collections
import os
import selectors
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable, Iterator

import numpy as np

from restore.errors import StageError
from restore.frame import Frame
from restore.media.pixfmt import rgb16_white


@dataclass(frozen=True)
class WireFormat:
    """How a float32 H×W×3 RGB frame travels through a pipe."""

    name: str                       # ffmpeg pix_fmt name of the bytes on the wire
    encode: Callable[[np.ndarray], bytes]
    decode: Callable[[bytes, int, int], np.ndarray]
    bytes_per_pixel: int

    def frame_bytes(self, width: int, height: int) -> int:
        return width * height * self.bytes_per_pixel


# 16-bit RGB is scaled to the white swscale itself uses (65280 on ffmpeg 5.1, not 65535), so the
# conversions to YUV inside the filter graph see the levels the frames have (restore.media.pixfmt)
def _encode_rgb48(image: np.ndarray) -> bytes:
    return (np.clip(image, 0.0, 1.0) * float(rgb16_white()) + 0.5).astype("<u2").tobytes()


def _decode_rgb48(buf: bytes, width: int, height: int) -> np.ndarray:
    img = np.frombuffer(buf, dtype="<u2").reshape(height, width, 3).astype(np.float32) / np.float32(rgb16_white())
    return np.minimum(img, 1.0, out=img)


def _encode_planar_float(image: np.ndarray) -> bytes:
    return np.ascontiguousarray(np.moveaxis(image, 2, 0), dtype="<f4").tobytes()


def _decode_planar_float(buf: bytes, width: int, height: int) -> np.ndarray:
    planes = np.frombuffer(buf, dtype="<f4").reshape(3, height, width)
    return np.clip(np.moveaxis(planes, 0, 2), 0.0, 1.0).astype(np.float32)


_CHUNK = 1 << 20        # bytes per pipe read/write

RGB48 = WireFormat("rgb48le", _encode_rgb48, _decode_rgb48, 6)
PLANAR_FLOAT = WireFormat("gbrpf32le", _encode_planar_float, _decode_planar_float, 12)


class FilterProcess:
    """Run frames through ``argv`` (reads ``wire`` frames on stdin, writes them on stdout).

    ``ratio`` output frames are produced per input frame (2 for field-rate
    deinterlacing); output frame ``k`` belongs to input frame ``k // ratio`` and is
    presented ``(k % ratio) / (ratio · fps)`` after it. The process must keep the
    frame count exactly; anything else stops the job with a StageError.
    """

    def __init__(self, argv: list[str], *, stage: str, width: int, height: int, fps: Fraction,
                 wire: WireFormat = RGB48, ratio: int = 1, env: dict | None = None,
                 error_parser: Callable[[str], tuple[int | None, str]] | None = None):
        self.argv = argv
        self.stage = stage
        self.width = width
        self.height = height
        self.fps = Fraction(fps)
        self.wire = wire
        self.ratio = ratio
        self.env = env
        self.error_parser = error_parser

    def run(self, frames: Iterator[Frame]) -> Iterator[Frame]:
        """Stream ``frames`` through the process; one thread, non-blocking pipes.

        Upstream frames are pulled on the caller's thread (so the runner's timing and
        upstream exceptions behave as for any stage) only when the previous frame's
        bytes have all gone into the pipe, and output is read whenever it is ready:
        at most one input frame and one output frame are held here.
        """
        proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=self.env)
        upstream = iter(frames)
        pending: collections.deque[Frame] = collections.deque()  # metadata only, no pixels
        stderr_tail = bytearray()
        size = self.wire.frame_bytes(self.width, self.height)
        field_step = Fraction(1) / (self.fps * self.ratio)
        out_buf = bytearray()
        to_write = memoryview(b"")
        sent = produced = 0
        stdin_open = True
        selector = selectors.DefaultSelector()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            os.set_blocking(stream.fileno(), False)
        selector.register(proc.stdout, selectors.EVENT_READ)
        selector.register(proc.stderr, selectors.EVENT_READ)
        try:
            while True:
                if stdin_open and not to_write:
                    frame = next(upstream, None)
                    if frame is None:
                        proc.stdin.close()
                        stdin_open = False
                    else:
                        if frame.image.shape[:2] != (self.height, self.width):
                            raise StageError(self.stage, frame.index, f"frame is {frame.width}x{frame.height}, "
                                                                      f"expected {self.width}x{self.height}")
                        pending.append(Frame(frame.index, frame.pts, None, None, frame.source_index,
                                             frame.field, frame.notes))
                        to_write = memoryview(self.wire.encode(frame.image))
                        sent += 1
                        selector.register(proc.stdin, selectors.EVENT_WRITE)
                if not selector.get_map():
                    break
                for key, _ in selector.select():
                    if key.fileobj is proc.stdin:
                        try:
                            to_write = to_write[os.write(proc.stdin.fileno(), to_write[:_CHUNK]):]
                        except BrokenPipeError:   # the process died: its stderr says why
                            to_write = memoryview(b"")
                            stdin_open = False
                        if not to_write:
                            selector.unregister(proc.stdin)
                            if not stdin_open:
                                proc.stdin.close()
                        continue
                    chunk = os.read(key.fd, _CHUNK)
                    if not chunk:
                        selector.unregister(key.fileobj)
                    elif key.fileobj is proc.stderr:
                        stderr_tail = (stderr_tail + chunk)[-8192:]
                    else:
                        out_buf += chunk
                while len(out_buf) >= size:
                    if not pending:
                        raise StageError(self.stage, produced // self.ratio,
                                         "filter process produced more frames than it was given")
                    phase = produced % self.ratio
                    source = pending[0] if phase < self.ratio - 1 else pending.popleft()
                    image = self.wire.decode(bytes(out_buf[:size]), self.width, self.height)
                    del out_buf[:size]
                    produced += 1
                    yield Frame(index=source.index * self.ratio + phase, pts=source.pts + phase * field_step,
                                image=image, source_index=source.source_index, field=source.field,
                                notes=dict(source.notes))
            proc.wait()
            if proc.returncode != 0:
                lines = stderr_tail.decode("utf-8", "replace").splitlines()
                frame_no, message = self._failure(lines, produced, proc.returncode)
                raise StageError(self.stage, frame_no, message)
            if out_buf:
                raise StageError(self.stage, produced // self.ratio,
                                 f"filter process ended inside a frame ({len(out_buf)} of {size} bytes)")
            if produced != sent * self.ratio:
                raise StageError(self.stage, produced // self.ratio,
                                 f"filter process returned {produced} frames for {sent} "
                                 f"(expected {sent * self.ratio})")
        finally:
            selector.close()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                if not stream.closed:
                    try:
                        stream.close()
                    except OSError:
                        pass

    def _failure(self, lines: list[str], produced: int, returncode: int) -> tuple[int, str]:
        default_frame = produced // self.ratio
        if self.error_parser is not None:
            frame_no, message = self.error_parser("\n".join(lines))
            if message:
                return (default_frame if frame_no is None else frame_no // self.ratio), message
        # ffmpeg's first error line names the cause; the later ones only echo it
        last = next((ln for ln in lines if ln.strip()), "no message")
        return default_frame, f"filter process exited with status {returncode}: {last}"


# --- the two kinds of filter process ----------------------------------------------------

# Frames are converted to YUV inside the graph: deinterlacers and denoisers judge
# motion and noise on luma, and full-range BT.601 both ways keeps the RGB round
# trip within 0.0005 (an eighth of an 8-bit step) whatever the source's own matrix was. Filters that only
# take 8-bit input (nlmeans in ffmpeg 5.1) get an explicit full-range 8-bit
# conversion: an auto-inserted one squeezes to limited range (−14 dB measured).
_TO_RGB = "scale=in_color_matrix=bt601:in_range=pc:out_range=pc,format=rgb48le"


def ffmpeg_filter(graph: str, *, stage: str, width: int, height: int, fps: Fraction,
                  ratio: int = 1, bits: int = 16) -> FilterProcess:
    """An ffmpeg process applying ``graph`` in full-range YUV 4:4:4 (``bits`` 16 or 8) to rgb48le frames."""
    yuv = "yuv444p16le" if bits == 16 else "yuv444p"
    chain = f"scale=out_color_matrix=bt601:out_range=pc,format={yuv},{graph},{_TO_RGB}"
    fps = Fraction(fps)
    argv = [
        "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
        "-f", "rawvideo", "-pix_fmt", RGB48.name, "-s", f"{width}x{height}",
        "-framerate", f"{fps.numerator}/{fps.denominator}", "-i", "pipe:0",
        "-vf", chain, "-fps_mode", "passthrough",
        "-f", "rawvideo", "-pix_fmt", RGB48.name, "pipe:1",
    ]
    return FilterProcess(argv, stage=stage, width=width, height=height, fps=fps, wire=RGB48, ratio=ratio)
