"""Per-frame checksums (ffmpeg's framemd5) of the decoded video and audio.

A file's sha256 changes with any remux or new metadata; the framemd5 lines change
only when decoded pictures or samples change. Keeping both lets ``verify`` say
*what* changed: the container, or the content. Comparisons use the data lines only:
ffmpeg writes its own version in a ``#software`` header line.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from pathlib import Path

from restore.errors import InputError


def write_framemd5(media: Path, destination: Path, input_args: list[str] | None = None) -> list[str]:
    """Decode every video and audio frame of media and write ffmpeg's framemd5 to destination.

    Returns the decoder's error messages: ffmpeg conceals a damaged slice (FFV1 copies it
    from the previous frame) and still exits 0, so a caller checking integrity must look
    at them. Written to a temporary name and renamed, so a crash never leaves half a file.
    """
    tmp = destination.with_name(f".{destination.name}.{os.getpid()}.tmp")
    # input_args: an image sequence (restore.media.sequence), read as one stream of frames
    cmd = ["ffmpeg", "-nostdin", "-v", "error", *(input_args or ["-i", str(media)]),
           "-map", "0:v?", "-map", "0:a?", "-f", "framemd5", "-y", str(tmp)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
            raise InputError(f"cannot decode {media.name} for frame checksums: {last}")
        if not frame_lines(read(tmp)):
            raise InputError(f"{media.name} has no decodable video or audio frames")
        os.replace(tmp, destination)
    finally:
        tmp.unlink(missing_ok=True)
    # "[ffv1 @ 0x55d…] slice CRC mismatch" → "ffv1: slice CRC mismatch" (addresses differ per run)
    return [re.sub(r"^\[(\w+) @ 0x[0-9a-f]+\] ", r"\1: ", line) for line in proc.stderr.splitlines() if line.strip()]


def packet_lines(media: Path) -> list[str]:
    """md5 of every compressed video and audio packet, without decoding (``-c copy``).

    Identical packets decode to identical frames, so a remux that keeps these lines keeps
    every decoded frame — checked at a fraction of the cost of decoding a film again.
    """
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(media), "-map", "0:v?", "-map", "0:a?",
           "-c", "copy", "-f", "framemd5", "-"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        raise InputError(f"cannot read the packets of {media.name}: {last}")
    return frame_lines(proc.stdout)


def read(path: Path) -> str:
    """A framemd5 file as text; damaged bytes become U+FFFD so that a corrupted file
    compares as different instead of failing to load."""
    return path.read_bytes().decode("utf-8", errors="replace")


def frame_lines(text: str) -> list[str]:
    """The per-frame lines of a framemd5 file (headers and comments dropped)."""
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def header_lines(text: str) -> list[str]:
    """Stream descriptions (#tb, #media_type, #codec_id, #dimensions …), minus the ffmpeg version."""
    return [line.strip() for line in text.splitlines()
            if line.startswith("#") and not line.startswith("#software")]


def content_digest(path: Path) -> str:
    """sha256 over the stream headers and frame lines: stable across ffmpeg versions' #software line."""
    text = read(path)
    return hashlib.sha256("\n".join(header_lines(text) + frame_lines(text)).encode()).hexdigest()


def summarize(path: Path) -> dict:
    """Frame counts per stream and the content digest, for the provenance record."""
    text = read(path)
    counts: dict[str, int] = {}
    for line in frame_lines(text):
        stream = line.split(",", 1)[0].strip()
        counts[stream] = counts.get(stream, 0) + 1
    return {"file": path.name, "content_sha256": content_digest(path),
            "frames_per_stream": dict(sorted(counts.items()))}


def first_difference(expected: str, actual: str) -> str | None:
    """None when the frame lines agree; otherwise where they first part, in words."""
    want, got = frame_lines(expected), frame_lines(actual)
    for number, (a, b) in enumerate(zip(want, got, strict=False)):  # lengths compared below
        if a != b:
            stream, _, rest = b.partition(",")
            pts = rest.split(",")[1].strip() if rest.count(",") >= 1 else "?"
            return f"frame line {number + 1} differs (stream {stream.strip()}, pts {pts})"
    if len(want) != len(got):
        return f"{len(got)} frame lines decoded, {len(want)} recorded"
    return None
