"""Pairing BEFORE and AFTER frame by frame, in BEFORE's geometry.

A restored file may differ from its source in size (super-resolution, square
pixels), in rate (field-rate deinterlacing turns 25i into 50p: two output frames
per source frame) and, if something went wrong, in length or framing. We compare
only what can be compared honestly and refuse the rest with one clear line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from restore.errors import InputError
from restore.frame import VideoFormat
from restore.media.decode import VideoReader
from restore.media.probe import main_video_stream, probe, video_format

# Display aspects closer than this are the same picture (720×576 at 16:15 is 4:3 within 0.01 %,
# 702-wide active picture conventions differ by ~2.5 %, and a crop or letterbox by far more).
ASPECT_TOLERANCE = 0.03


@dataclass(frozen=True)
class Alignment:
    before: VideoFormat
    after: VideoFormat
    rate_ratio: int                  # output frames per source frame (1, or 2 for field-rate output)
    before_duration: float | None
    after_duration: float | None
    frames_log: Path | None          # the run's per-frame sidecar, whose source_index we trust over the ratio
    trimmed: bool = False            # AFTER restores a stretch of BEFORE (paired through frames_log)

    @property
    def compares_fields(self) -> bool:
        """An interlaced source against progressive output: each output frame shows one field's moment,
        so it is compared with that field, not with the two fields woven together (moving edges
        in a woven frame are doubled, and would read as invented structure)."""
        return self.before.interlaced and not self.after.interlaced

    @property
    def resized(self) -> bool:
        return (self.after.width, self.after.height) != (self.before.width, self.before.height)

    @property
    def display_size(self) -> tuple[int, int]:
        """BEFORE's picture at square pixels and BEFORE's height (how a viewer shows it), even for H.264 4:2:0."""
        h = self.before.height - self.before.height % 2
        w = max(2, int(round(h * float(self.before.dar) / 2)) * 2)
        return w, h

    def describe(self) -> dict:
        return {"before": _format_facts(self.before), "after": _format_facts(self.after),
                "after_frames_per_source_frame": self.rate_ratio,
                "after_resized_to_before": self.resized,
                "mapping": "per-frame sidecar (source_index)" if self.frames_log else
                           ("output frame k ↔ source frame k // 2 (field-rate output)" if self.rate_ratio == 2
                            else "output frame k ↔ source frame k"),
                "display_size": list(self.display_size),
                "reference": ("the source field at the output frame's moment, interpolated to full height"
                              if self.compares_fields else "the source frame")}


def _format_facts(fmt: VideoFormat) -> dict:
    return {"width": fmt.width, "height": fmt.height, "fps": f"{fmt.fps.numerator}/{fmt.fps.denominator}",
            "sar": f"{fmt.sar.numerator}/{fmt.sar.denominator}", "field_order": fmt.field_order,
            "dar": round(float(fmt.dar), 4)}


def plan_alignment(before: Path, after: Path, frames_log: Path | None = None, *, trimmed: bool = False) -> Alignment:
    """Check that AFTER is a restoration of BEFORE we can pair frame by frame, or refuse.

    ``trimmed``: AFTER restores a stretch of BEFORE (``restore run --start/--duration/--frames``); its
    frame log names each frame's source frame, so it may be shorter than BEFORE but not longer."""
    before_report, after_report = probe(before, count=False), probe(after, count=False)
    bf, af = video_format(before_report), video_format(after_report)
    ratio = af.fps / bf.fps
    if ratio == 2:
        rate_ratio = 2
    elif ratio == 1:
        rate_ratio = 1
    else:
        raise InputError(
            f"AFTER runs at {_rate(af.fps)} fps and BEFORE at {_rate(bf.fps)} fps: only the same rate or "
            "field-rate output (twice the source rate, from deinterlacing) can be compared frame by frame")
    aspect_gap = abs(float(af.dar) / float(bf.dar) - 1)
    if aspect_gap > ASPECT_TOLERANCE:
        raise InputError(
            f"AFTER's picture is {af.width}x{af.height} with display aspect {float(af.dar):.3f} and BEFORE's "
            f"{bf.width}x{bf.height} with {float(bf.dar):.3f}: the picture was cropped, padded or stretched, "
            "so regions cannot be compared")
    bd = main_video_stream(before_report).get("duration") or before_report.get("duration")
    ad = main_video_stream(after_report).get("duration") or after_report.get("duration")
    if frames_log is not None and not Path(frames_log).is_file():
        frames_log = None
    if trimmed and frames_log is not None:
        if bd and ad and ad - bd > max(2.0 / float(bf.fps), 0.01 * bd):
            raise InputError(f"AFTER lasts {ad:.3f} s, longer than BEFORE ({bd:.3f} s): not a stretch of it")
    elif bd and ad and abs(bd - ad) > max(2.0 / float(bf.fps), 0.01 * bd):
        raise InputError(f"AFTER lasts {ad:.3f} s and BEFORE {bd:.3f} s: they are not the same clip "
                         "(trimmed, or a different source)")
    return Alignment(bf, af, rate_ratio, bd, ad, Path(frames_log) if frames_log else None,
                     trimmed=trimmed and frames_log is not None)


def _rate(fps: Fraction) -> str:
    return str(fps.numerator) if fps.denominator == 1 else f"{fps.numerator}/{fps.denominator}"


def to_before_geometry(image: np.ndarray, alignment: Alignment) -> np.ndarray:
    """AFTER's picture resampled onto BEFORE's sample grid (area filter: no new detail, no aliasing)."""
    if not alignment.resized:
        return image
    w, h = alignment.before.width, alignment.before.height
    shrinking = w < image.shape[1] and h < image.shape[0]
    return cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)


@dataclass
class Pair:
    after_index: int
    source_index: int
    pts: Fraction
    before: np.ndarray               # BEFORE's frame (native geometry)
    after: np.ndarray                # AFTER's frame (native geometry)
    after_aligned: np.ndarray        # AFTER in BEFORE's geometry
    reference: np.ndarray            # what AFTER is held against: BEFORE, or its field at AFTER's moment
    log: dict                        # this frame's sidecar entry ({} without one)


def field_picture(frame: np.ndarray, bottom: bool) -> np.ndarray:
    """One field of a woven frame at full height: its own lines kept, the others interpolated between them."""
    out = np.empty_like(frame)
    field = frame[1::2] if bottom else frame[0::2]
    own = slice(1, None, 2) if bottom else slice(0, None, 2)
    other = slice(0, None, 2) if bottom else slice(1, None, 2)
    out[own] = field
    # neighbours of each missing line within the field (edge lines repeat)
    if bottom:
        above = np.concatenate([field[:1], field])[: out[other].shape[0]]
        below = field[: out[other].shape[0]]
        if below.shape[0] < above.shape[0]:
            below = np.concatenate([below, field[-1:]])
    else:
        above = field[: out[other].shape[0]]
        below = np.concatenate([field[1:], field[-1:]])[: out[other].shape[0]]
    out[other] = 0.5 * (above + below)
    return out


def read_frames_log(path: Path | None) -> Iterator[dict]:
    if path is None:
        while True:
            yield {}
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                raise InputError(f"{path}: line {number} is not JSON (damaged frame log)") from None
    while True:
        yield {}


def aligned_pairs(before: Path, after: Path, alignment: Alignment, max_frames: int | None = None) -> Iterator[Pair]:
    """Every AFTER frame with the BEFORE frame it came from; both files are read once, in step."""
    before_reader = VideoReader(before, alignment.before, mode="rgb", queue_size=4)
    after_reader = VideoReader(after, alignment.after, mode="rgb", queue_size=4, max_frames=max_frames)
    log = read_frames_log(alignment.frames_log)
    before_iter = iter(before_reader)
    current, current_index = None, -1
    after_count = 0
    seen_of_current = 0              # output frames already paired with the current source frame
    try:
        for frame in after_reader:
            entry = next(log)
            source_index = entry.get("source_index")
            if source_index is None:
                source_index = frame.index // alignment.rate_ratio
            if source_index < current_index:
                raise InputError(f"frame log of {after} goes back in time at frame {frame.index} "
                                 f"(source frame {source_index} after {current_index})")
            if current_index == source_index:
                seen_of_current += 1
            else:
                seen_of_current = 0
            while current_index < source_index:
                try:
                    current = next(before_iter)
                except StopIteration:
                    raise InputError(f"AFTER frame {frame.index} comes from source frame {source_index}, but "
                                     f"BEFORE ends after {current_index + 1} frames: not the same clip") from None
                current_index = current.index
            reference = current.image
            if alignment.compares_fields:
                second = seen_of_current % 2 == 1
                reference = field_picture(current.image, bottom=second == alignment.before.top_field_first)
            after_count += 1
            yield Pair(frame.index, source_index, frame.pts, current.image, frame.image,
                       to_before_geometry(frame.image, alignment), reference, entry)
        if max_frames is None and not alignment.trimmed:
            left = sum(1 for _ in before_iter)
            if left > 1:  # a field-rate deinterlacer may drop the very last field; more is a mismatch
                raise InputError(f"BEFORE has {current_index + 1 + left} frames but AFTER covers only the first "
                                 f"{current_index + 1} ({after_count} AFTER frames): AFTER is truncated")
        if after_count == 0:
            raise InputError(f"AFTER ({after}) holds no video frames")
    finally:
        before_reader.close()
        after_reader.close()
