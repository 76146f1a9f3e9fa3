"""Review report: time against the restoration it reviews, size per minute, memory against length (issue 6, item 5).

Baseline in the same run: the restoration of the same clip with the default pipeline
(`restore run`); the report must take well under it. Each report is built in a fresh
process so its peak memory (max RSS) can be read; memory must not grow with the
number of frames. Clips: the bundled PAL sample (720×576, 25i, 100 frames), cut to
its first 50 frames and whole, and ../shared/media/old-film/oldfilm-002.mkv (640×480,
521 frames of real film) when ../shared is present.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SAMPLE = REPO / "samples" / "speech-pal-sample.mkv"

_CHILD = """
import json, resource, sys
from pathlib import Path
from restore.review.report import ReviewOptions, build_report
before, after, out = sys.argv[1:4]
index = build_report(Path(before), Path(after), Path(out), options=ReviewOptions())
summary = json.loads((index.parent / "summary.json").read_text())
num, den = summary["alignment"]["after"]["fps"].split("/")
print(json.dumps({"frames": summary["frames"], "bytes": summary["report_bytes"], "fps": int(num) / int(den),
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _measured(args: list[str]) -> tuple[float, float, str]:
    """Run a command; its wall seconds, CPU seconds (with its ffmpeg children) and stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    res = subprocess.run(args, capture_output=True, text=True, cwd=REPO)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if res.returncode != 0:
        raise RuntimeError(res.stderr.strip().splitlines()[-1] if res.stderr.strip() else f"{args[:3]} failed")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, res.stdout


def _cut(source: Path, frames: int, folder: Path) -> Path:
    cut = folder / "source.mkv"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(source), "-frames:v", str(frames),
                    "-c:v", "ffv1", str(cut)], check=True)
    return cut


def _sr_seconds_per_frame(width: int = 720, height: int = 576) -> float | None:
    """CPU seconds of one forward of the peer SR model (Real-ESRGAN general-x4v3) on one SD frame."""
    weights = SHARED / "weights" / "realesr-general-x4v3.fp16-ncnn-conversion.pth"
    if not weights.exists():
        return None
    import restore.models.compat  # noqa: F401
    import torch
    from basicsr.archs.srvgg_arch import SRVGGNetCompact

    net = SRVGGNetCompact(3, 3, 64, 32, 4, "prelu")
    net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True)["params"], strict=True)
    net.eval()
    x = torch.rand(1, 3, height, width)
    with torch.no_grad():
        net(x[:, :, :64, :64])
        t0 = time.process_time()
        net(x)
        return time.process_time() - t0


def main() -> None:
    clips = []
    if SAMPLE.exists():
        clips += [("sample, 50 frames", SAMPLE, 50), ("sample, 100 frames", SAMPLE, None)]
    film = SHARED / "media" / "old-film" / "oldfilm-002.mkv"
    if film.exists():
        clips.append(("oldfilm-002, 521 frames", film, None))
    if not clips:
        print("bench_review: neither the bundled sample nor ../shared/media/old-film is present, skipped")
        return
    print(f"{'clip':26s} {'restore s':>9s} {'CPU s':>6s} {'report s':>9s} {'CPU s':>6s} {'CPU ratio':>9s} "
          f"{'CPU ms/frame':>12s} {'MB':>6s} {'MB/min':>7s} {'peak RSS MB':>11s}")
    with tempfile.TemporaryDirectory(prefix="bench-review-") as tmp:
        for name, source, frames in clips:
            work = Path(tmp) / f"{source.stem}-{frames}"
            work.mkdir(parents=True)
            before = _cut(source, frames, work) if frames else source
            restored = work / "restored.mkv"
            r_wall, r_cpu, _ = _measured([sys.executable, "-m", "restore.cli", "run", str(before), "-o",
                                             str(restored), "--no-sign", "-q"])
            wall, cpu, out = _measured([sys.executable, "-c", _CHILD, str(before), str(restored),
                                             str(work / "report")])
            r = json.loads(out.strip().splitlines()[-1])
            minutes = r["frames"] / r["fps"] / 60
            print(f"{name:26s} {r_wall:9.1f} {r_cpu:6.1f} {wall:9.1f} {cpu:6.1f} {cpu / r_cpu:9.2f} "
                  f"{1000 * cpu / r['frames']:12.0f} {r['bytes'] / 1e6:6.2f} {r['bytes'] / 1e6 / minutes:7.1f} "
                  f"{r['rss_mb']:11.0f}")
    sr = _sr_seconds_per_frame()
    if sr is not None:
        print(f"for scale: one SD frame through the peer SR model (Real-ESRGAN general-x4v3, CPU) costs "
              f"{1000 * sr:.0f} ms CPU")
    print("report defaults: pictures stored once a second, NIQE every 4 s, side_by_side.mp4, "
          "fidelity map on every frame. "
          "Baseline: `restore run` (default pipeline, provenance, no signing) on the same frames. CPU s counts "
          "the process and its ffmpeg children (wall time on a shared machine says little); peak RSS is the "
          "report process's own (Python; its decoders are bounded ffmpeg pipes).")


if __name__ == "__main__":
    main()
