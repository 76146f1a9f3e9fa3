"""Frames through an external filter process (ffmpeg or the VapourSynth worker).

Written once and shared by every stage that hands frames to another process:
a writer thread pulls frames from upstream and writes their pixels to the
process's stdin, while the calling thread reads filtered pixels back from stdout
and re-attaches the timing and identity of the input frame each output frame
came from. Only the pixels in flight inside the pipes and the process exist at
any time (bounded memory); the per-frame metadata queue holds no pixels.

Cost of the wire formats (720×576, measured on 2 cores): float32 → rgb48le and
back is ~4 ms per frame each way in numpy; float32 planar (the VapourSynth wire)
is a transpose copy, ~2 ms. Both are small next to the filters they feed.
"""

from __future__ import annotations

import collections
import subprocess
import threading
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable, Iterator

import numpy as np

from restore.errors import StageError
from restore.frame import Frame


@dataclass(frozen=True)
class WireFormat:
    """How a float32 H×W×3 RGB frame travels through a pipe."""

    name: str                       # ffmpeg pix_fmt name of the bytes on the wire
    encode: Callable[[np.ndarray], bytes]
    decode: Callable[[bytes, int, int], np.ndarray]
    bytes_per_pixel: int

    def frame_bytes(self, width: int, height: int) -> int:
        return width * height * self.bytes_per_pixel


def _encode_rgb48(image: np.ndarray) -> bytes:
    return (np.clip(image, 0.0, 1.0) * 65535.0 + 0.5).astype("<u2").tobytes()


def _decode_rgb48(buf: bytes, width: int, height: int) -> np.ndarray:
    return np.frombuffer(buf, dtype="<u2").reshape(height, width, 3).astype(np.float32) / np.float32(65535.0)


def _encode_planar_float(image: np.ndarray) -> bytes:
    return np.ascontiguousarray(np.moveaxis(image, 2, 0), dtype="<f4").tobytes()


def _decode_planar_float(buf: bytes, width: int, height: int) -> np.ndarray:
    planes = np.frombuffer(buf, dtype="<f4").reshape(3, height, width)
    return np.clip(np.moveaxis(planes, 0, 2), 0.0, 1.0).astype(np.float32)


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
        proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=self.env)
        pending: collections.deque[Frame] = collections.deque()  # metadata only, no pixels
        failure: list[BaseException] = []
        stderr_tail: collections.deque[str] = collections.deque(maxlen=40)
        sent = [0]

        def feed() -> None:
            try:
                for frame in frames:
                    if frame.image.shape[:2] != (self.height, self.width):
                        raise StageError(self.stage, frame.index,
                                         f"frame is {frame.width}x{frame.height}, expected {self.width}x{self.height}")
                    pending.append(Frame(frame.index, frame.pts, None, None, frame.source_index,
                                         frame.field, frame.notes))
                    proc.stdin.write(self.wire.encode(frame.image))
                    sent[0] += 1
            except (BrokenPipeError, ValueError, OSError) as exc:
                if proc.poll() is None and not isinstance(exc, BrokenPipeError):
                    failure.append(exc)
            except BaseException as exc:  # upstream failure: re-raised in the reading thread
                failure.append(exc)
            finally:
                try:
                    proc.stdin.close()
                except OSError:
                    pass

        def drain_stderr() -> None:
            for line in proc.stderr:
                stderr_tail.append(line.decode("utf-8", "replace").rstrip())

        writer = threading.Thread(target=feed, name=f"{self.stage}-writer", daemon=True)
        logger = threading.Thread(target=drain_stderr, name=f"{self.stage}-stderr", daemon=True)
        writer.start()
        logger.start()
        size = self.wire.frame_bytes(self.width, self.height)
        produced = 0
        field_step = Fraction(1) / (self.fps * self.ratio)
        try:
            while True:
                buf = self._read_exact(proc.stdout, size, produced)
                if buf is None:
                    break
                if not pending:
                    raise StageError(self.stage, produced // self.ratio,
                                     "filter process produced more frames than it was given")
                phase = produced % self.ratio
                source = pending[0] if phase < self.ratio - 1 else pending.popleft()
                image = self.wire.decode(buf, self.width, self.height)
                yield Frame(
                    index=source.index * self.ratio + phase,
                    pts=source.pts + phase * field_step,
                    image=image,
                    source_index=source.source_index,
                    field=source.field,
                    notes=dict(source.notes),
                )
                produced += 1
            writer.join()
            proc.wait()
            logger.join(timeout=5)
            if failure:
                raise failure[0]
            if proc.returncode != 0:
                frame_no, message = self._failure(list(stderr_tail), produced, proc.returncode)
                raise StageError(self.stage, frame_no, message)
            if produced != sent[0] * self.ratio:
                raise StageError(self.stage, produced // self.ratio,
                                 f"filter process returned {produced} frames for {sent[0]} "
                                 f"(expected {sent[0] * self.ratio})")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            for stream in (proc.stdout, proc.stderr):
                stream.close()

    def _failure(self, lines: list[str], produced: int, returncode: int) -> tuple[int, str]:
        default_frame = produced // self.ratio
        if self.error_parser is not None:
            frame_no, message = self.error_parser("\n".join(lines))
            if message:
                return (default_frame if frame_no is None else frame_no // self.ratio), message
        # ffmpeg's first error line names the cause; the later ones only echo it
        last = next((ln for ln in lines if ln.strip()), "no message")
        return default_frame, f"filter process exited with status {returncode}: {last}"

    def _read_exact(self, stream, size: int, produced: int) -> bytes | None:
        try:
            return _read_exact(stream, size)
        except EOFError as exc:
            raise StageError(self.stage, produced // self.ratio, str(exc)) from None


def _read_exact(stream, size: int) -> bytes | None:
    """Read exactly ``size`` bytes, None at a clean end of stream."""
    chunks = []
    got = 0
    while got < size:
        chunk = stream.read(size - got)
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    if got == 0:
        return None
    if got != size:
        raise EOFError(f"filter process ended inside a frame ({got} of {size} bytes)")
    return b"".join(chunks)


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
