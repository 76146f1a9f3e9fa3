"""Frame timing facts: is the stream variable-rate, onto which constant rate to conform it, and are frames
missing from it.

A constant-rate stream whose timestamps jump by whole frames has *lost* frames (container damage, a
dropped cluster, a capture that skipped): the source cannot give them, so they are reported as gaps and
a job refuses them unless the user asks for them to be filled (``--fill-gaps``), and then every filled
frame is listed. A genuinely variable-rate stream is conformed to its nominal rate as before, but an
interval longer than ``GAP_SECONDS`` is a gap there too, and no gap fill may exceed ``MAX_FILL_SECONDS``
(a 3-hour timestamp jump would otherwise mean 270,000 frames of repeats).
"""

from __future__ import annotations

import math
import re
import subprocess
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

GAP_SECONDS = 1.0          # in a variable-rate stream, an interval this long is missing picture, not jitter
MAX_FILL_SECONDS = 60.0    # the most picture --fill-gaps will invent, in all


@dataclass(frozen=True)
class Gap:
    """Frames missing between two frames the source does hold (numbers are output frame numbers)."""

    after_frame: int         # the last frame before the gap (its copies fill it)
    after_time: float        # its time, seconds
    resume_time: float       # the time of the next frame the source holds
    missing: int             # frames the constant rate has in between

    def describe(self) -> str:
        first, last = self.after_frame + 1, self.after_frame + self.missing
        frames = f"frame {first}" if first == last else f"frames {first}-{last}"
        return (f"{frames} ({self.after_time:.3f}-{self.resume_time:.3f} s) missing after frame "
                f"{self.after_frame}")


@dataclass
class Timing:
    conform: Fraction | None = None        # resample onto this constant rate (None: take frames as they are)
    variable: bool = False                 # the stream is genuinely variable-rate
    gaps: list[Gap] = field(default_factory=list)

    @property
    def missing(self) -> int:
        return sum(g.missing for g in self.gaps)

_STANDARD_RATES = [Fraction(24000, 1001), Fraction(24), Fraction(25), Fraction(30000, 1001), Fraction(30),
                   Fraction(48), Fraction(50), Fraction(60000, 1001), Fraction(60)]


def _rate(text: str | None) -> Fraction | None:
    if not text or text in ("0/0", "N/A"):
        return None
    value = Fraction(text)
    return value if value > 0 else None


def packet_times(path: Path, limit: int | None = None) -> list[float]:
    cmd = ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time",
           "-of", "csv=p=0", str(path)]
    if limit:
        cmd[1:1] = ["-read_intervals", f"%+#{limit}"]
    out = subprocess.run(cmd, capture_output=True, text=True).stdout
    times = []
    for line in out.split():
        try:
            times.append(float(line.strip(",")))
        except ValueError:
            continue
    return sorted(times)


def detect_variable_rate(path: Path, video: dict[str, Any], packets: int) -> Fraction | None:
    """The constant rate to conform to when the stream is variable-rate; None when it is constant.

    Two signs: the frame count disagrees with duration × rate, or frame intervals
    near the start are irregular. Container timestamps are rounded (Matroska: 1 ms),
    so an interval counts as irregular only when it is off by more than a quarter frame.
    """
    r = _rate(video.get("r_frame_rate"))
    avg = _rate(video.get("avg_frame_rate"))
    if not r:
        return None
    duration = video.get("duration")
    count_disagrees = duration is not None and packets > 0 and abs(packets - duration * float(r)) > 1.5
    nominal = float(1 / r)
    times = packet_times(path, limit=300)
    irregular = sum(1 for a, b in zip(times, times[1:]) if abs((b - a) - nominal) > nominal / 4)
    if not count_disagrees and irregular == 0:
        return None
    base = avg or r
    for rate in _STANDARD_RATES:
        if abs(float(rate) - float(base)) / float(rate) < 0.02:
            return rate
    return r if r <= 60 else base.limit_denominator(1001)


def analyse(path: Path, video: dict[str, Any], packets: int) -> Timing:
    """Whether ``path``'s video is variable-rate or has frames missing, from every packet's timestamp."""
    timing = Timing(conform=detect_variable_rate(path, video, packets))
    timing.variable = timing.conform is not None
    rate = timing.conform or _rate(video.get("r_frame_rate"))
    if rate is None:
        return timing
    times = packet_times(path)
    if len(times) != packets or len(times) < 2:
        return timing            # timestamps missing or unreadable: nothing to measure gaps with
    step = float(1 / rate)
    intervals = [b - a for a, b in zip(times, times[1:])]
    # constant rate with holes: every interval a whole number of frames (to a quarter frame: Matroska
    # rounds to 1 ms) — then the stream is not variable at all, it has lost frames
    whole = all(round(d / step) >= 1 and abs(d - round(d / step) * step) <= step / 4 for d in intervals)
    if whole and any(round(d / step) > 1 for d in intervals):
        timing.variable = False
        timing.conform = rate
        threshold = 1.5 * step
    elif timing.variable:
        threshold = max(GAP_SECONDS, 4 * step)
    else:
        return timing
    for i, d in enumerate(intervals):
        if d >= threshold:
            # frame numbers on the constant-rate timeline the output will have
            timing.gaps.append(Gap(after_frame=round((times[i] - times[0]) / step),
                                   after_time=times[i] - times[0], resume_time=times[i + 1] - times[0],
                                   missing=max(1, round(d / step) - 1)))
    return timing


# --- trims ---------------------------------------------------------------------------------------

_CLOCK = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{1,2})(?:([:;])(\d{1,3})|\.(\d+))?$")


def parse_position(text: str, fps: Fraction, what: str) -> int:
    """A position or a length in frames: ``250`` (frames), ``10s`` / ``12.5s`` (seconds),
    ``HH:MM:SS:FF`` (timecode, counted from the first frame, not from the source's own timecode;
    ``;`` for NTSC drop-frame) or ``HH:MM:SS.mmm``."""
    text = str(text).strip()
    if text.isdigit():
        return int(text)
    if text.endswith("s"):
        try:
            return round(float(text[:-1]) * fps)
        except ValueError:
            pass
    m = _CLOCK.match(text)
    if m is None:
        raise ValueError(f"{what} must be frames (250), seconds (10s) or a timecode (HH:MM:SS:FF), got {text[:40]!r}")
    hours, minutes, seconds = int(m[1] or 0), int(m[2]), int(m[3])
    if m[6] is not None:                       # HH:MM:SS.mmm
        return round((hours * 3600 + minutes * 60 + seconds + float("0." + m[6])) * fps)
    frames = int(m[5] or 0)
    nominal = math.ceil(fps)
    if frames >= nominal:
        raise ValueError(f"{what}: frame {frames} does not exist at {float(fps):g} fps")
    total = (hours * 3600 + minutes * 60 + seconds) * nominal + frames
    if m[4] == ";":
        # drop-frame: labels ;00 and ;01 (;00-;03 at 59.94) are skipped each minute but every tenth
        drop = 2 * round(nominal / 30)
        all_minutes = hours * 60 + minutes
        total -= drop * (all_minutes - all_minutes // 10)
    return total


def shift_timecode(timecode: str, frames: int, fps: Fraction) -> str:
    """The timecode ``frames`` later (a trimmed output starts at its first frame's timecode)."""
    m = _CLOCK.match(timecode.strip())
    if m is None or m[4] is None:
        return timecode
    nominal = math.ceil(fps)
    drop_frame = m[4] == ";"
    start = parse_position(timecode, fps, "timecode")
    if drop_frame:
        # to a frame count, add, back to a drop-frame label (SMPTE 12M)
        drop = 2 * round(nominal / 30)
        per_10min = nominal * 600 - drop * 9
        per_min = nominal * 60 - drop
        count = start + frames
        tens, rest = divmod(count, per_10min)
        extra = drop * 9 * tens + (drop * ((rest - drop) // per_min) if rest > drop else 0)
        count += extra
        ff = count % nominal
        ss = count // nominal % 60
        mm = count // (nominal * 60) % 60
        hh = count // (nominal * 3600) % 24
        return f"{hh:02d}:{mm:02d}:{ss:02d};{ff:02d}"
    count = start + frames
    ff, total_seconds = count % nominal, count // nominal
    return f"{total_seconds // 3600 % 24:02d}:{total_seconds // 60 % 60:02d}:{total_seconds % 60:02d}:{ff:02d}"
