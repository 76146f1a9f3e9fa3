"""Frame timing facts: is the stream variable-rate, and onto which constant rate to conform it."""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

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


def detect_variable_rate(path: Path, video: dict, packets: int) -> Fraction | None:
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
