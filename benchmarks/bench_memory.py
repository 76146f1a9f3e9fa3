"""Peak memory must not grow with clip length: 10 s vs 60 s through passthrough and default.

passthrough runs at PAL size (720×576). The default pipeline runs our ×2 model on every
frame (about a second per PAL frame on 2 cores), so its length test uses a 192×144 clip:
what is measured is growth with the number of frames, which the frame size does not change.
Reproduce: `make bench` or `.venv/bin/python -m benchmarks memory`.
"""

from __future__ import annotations

from benchmarks.common import run_measured, synthetic_clip, table, workdir


def main() -> None:
    d = workdir("memory")
    rows = []
    for pipeline, size in (("passthrough", "720x576"), ("default", "192x144")):
        peaks = {}
        for seconds in (10, 60):
            clip = synthetic_clip(d / f"clip-{size}-{seconds}s.mkv", seconds, size=size)
            wall, peak, res = run_measured(["run", str(clip), "-o", str(d / f"out-{pipeline}-{seconds}.mkv"),
                                            "-p", pipeline, "--overwrite", "--quiet", "--no-sign"])
            if res.returncode != 0:
                raise RuntimeError(f"{pipeline} {seconds}s failed: {res.stderr.strip()}")
            frames = seconds * 25
            peaks[seconds] = peak
            rows.append([pipeline, size, f"{seconds} s", frames, wall, frames / wall, peak / 2**20])
        rows.append([pipeline, size, "ratio 60/10", "", "", "", peaks[60] / peaks[10]])
    print(table(["pipeline", "size", "clip", "frames", "wall s", "fps", "peak RSS MiB"], rows))
    print("target: peak RSS ratio 60 s / 10 s <= 1.1")
