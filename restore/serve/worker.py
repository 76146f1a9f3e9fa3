"""One job's work, in its own process: ``python -m restore.serve.worker JOB_FOLDER --root ROOT``.

The server starts one worker at a time (the queue) and cancels it with SIGTERM. The worker restores
with the batch machinery (``restore.batch``: segments, journal, locks, status file), so a cancelled or
crashed job resumes where it stopped, and a re-run after corrections redoes only the segments they
touch (the segments are kept beside the output for that). Its progress goes to ``progress.json``,
which every browser tab reads.
"""

from __future__ import annotations

import argparse
import glob
import json
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

import yaml

from restore.batch.durable import write_json_durably
from restore.errors import UserError
from restore.serve.store import Job, now, read_json

DEFAULT_SEGMENT_FRAMES = 250


class Progress:
    """``progress.json``: the phase and the numbers a person watches (rewritten atomically, at most twice a second)."""

    def __init__(self, path: Path, stages: list[str] | None = None):
        self.path = Path(path)
        self.data = {"phase": "preparing", "stage": None, "frames_done": 0, "frames_total": None, "fps": None,
                     "eta_s": None, "segments_done": None, "segments_total": None, "error": None}
        self.stages = stages or []
        self._last = 0.0

    def set(self, force: bool = True, **changes) -> None:
        self.data.update(changes)
        now_ = time.monotonic()
        if force or now_ - self._last >= 0.5:
            self._last = now_
            write_json_durably(self.path, {**self.data, "updated": now()})


class ServeDisplay:
    """What ``restore.batch.driver.BatchRun`` reports to (the BatchDisplay interface): into progress.json."""

    def __init__(self, progress: Progress):
        self.progress = progress
        self.status = None

    def _write(self, force: bool) -> None:
        if self.status is None or not self.status.jobs:
            return
        job = next(iter(self.status.jobs.values()))
        phase = {"assembling": "assembling the master, writing its provenance and signing it",
                 "running": "restoring", "pending": "preparing"}.get(job.state, job.state)
        self.progress.set(force=force, phase=phase,
                          stage=" → ".join(self.progress.stages) if job.state == "running" else None,
                          frames_done=job.frames_done, frames_total=job.frames_total,
                          fps=round(job.fps, 2) if job.fps else None,
                          eta_s=round(job.eta_s, 1) if job.eta_s is not None else None,
                          segments_done=job.segments_done, segments_total=job.segments_total, error=job.error)

    def update(self, force: bool = False) -> None:
        self._write(force)

    def event(self, job) -> None:
        self._write(True)


def trim_source(original: Path, target: Path, first: int, count: int) -> Path:
    """Frames [first, first + count) of the source as lossless FFV1, with its sound cut to match (FLAC)."""
    from restore.media.probe import main_video_stream, probe

    report = probe(original, count=False)
    video = main_video_stream(report)
    rate = video.get("r_frame_rate") or "25/1"
    num, _, den = str(rate).partition("/")
    fps = float(num) / float(den or 1)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.partial.mkv")
    has_audio = any(s.get("type") == "audio" for s in report.get("streams") or [])
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(original), "-map", "0:v:0",
           "-vf", f"trim=start_frame={first}:end_frame={first + count},setpts=PTS-STARTPTS",
           "-c:v", "ffv1", "-level", "3", "-g", "1"]
    if has_audio:
        cmd += ["-map", "0:a", "-af", f"atrim=start={first / fps:.6f}:duration={count / fps:.6f},"
                                      "asetpts=PTS-STARTPTS", "-c:a", "flac"]
    proc = subprocess.run(cmd + [str(tmp)], capture_output=True, text=True)
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise UserError(f"cannot cut frames {first}–{first + count - 1} from {original.name}: "
                        f"{(proc.stderr.strip().splitlines() or ['ffmpeg failed'])[-1]}")
    tmp.replace(target)
    return target


def restore(job: Job, root: Path, segment_frames: int) -> None:
    from restore.batch.driver import run_batch
    from restore.batch.executors import InlineExecutor
    from restore.batch.jobfile import load_jobfile
    from restore.corrections import active

    data = job.data
    stages = [s.get("stage") for s in (yaml.safe_load(Path(data["preset_path"]).read_text()) or {}).get("stages") or []]
    progress = Progress(job.folder / "progress.json", stages)
    progress.set(phase="preparing")
    approval = job.folder / "approval.json"
    if approval.exists():        # it approved the output this run replaces: keep it, as history
        history = job.folder / "approvals"
        history.mkdir(exist_ok=True)
        approval.replace(history / f"approval-{now().replace(':', '')}.json")
        job.update(package=None, package_valid=None)
    source = job.source_path(root)
    if data.get("trim") and not source.exists():
        progress.set(phase="cutting the chosen frames from the source")
        trim = data["trim"]
        trim_source((root / data["source"]).resolve(), source, int(trim["first"]), int(trim["count"]))
    out_dir = job.folder / "output"
    out_dir.mkdir(exist_ok=True)

    # the corrections this run applies: an immutable revision file (the operator may go on correcting)
    doc = job.corrections()
    revision = int(doc.get("revision", 0))
    corrections = job.corrections_dir / f"rev-{revision:06d}.json" if active(doc) else None

    job_file = job.folder / "jobs.yaml"
    job_file.write_text(yaml.safe_dump({
        "version": 1, "roots": {"input": str(source.parent), "output": str(out_dir)},
        # the job file reads inputs as globs: a film named "reel [1].mkv" must match itself only
        "inputs": [glob.escape(str(source))], "output": {"folder": str(out_dir), "name": data["output_name"]},
        "pipeline": data["preset_path"], "status": "restore-status.json",
        "options": {"segment_frames": segment_frames, "overwrite": True}}, sort_keys=False))
    jf = load_jobfile(job_file)
    jf.options.corrections = corrections
    jf.options.keep_work = True            # re-runs after corrections redo only the segments they touch
    outcome = run_batch(jf, InlineExecutor(), ServeDisplay(progress))
    status = next(iter(outcome.status.jobs.values()))
    if status.state != "done":
        raise UserError(status.error or f"the restoration ended {status.state}")
    job.update(applied_revision=revision)

    progress.set(phase="building the review", stage=None)
    from restore.review.report import ReviewOptions, build_report

    output = job.output
    build_report(source, output, job.report_dir, options=ReviewOptions(),
                 provenance={"provenance": output.with_name(output.name + ".provenance.json")})
    progress.set(phase="done", frames_done=status.frames_total, eta_s=0)


def package(job: Job) -> None:
    from restore.provenance.bagit_package import build_package
    from restore.provenance.verify import verify_package

    progress = Progress(job.folder / "progress.json")
    approval = read_json(job.folder / "approval.json")
    if not approval:
        raise UserError("nothing to package: the restoration has not been approved")
    progress.set(phase="packaging: access copy, manifests")
    stamp = approval["when"].replace(":", "").replace("-", "").split("+")[0]
    target = job.folder / f"package-{stamp}"
    extra = {"approval.json": json.dumps(approval, indent=2, ensure_ascii=False).encode() + b"\n"}
    if job.corrections_path.is_file():
        extra["corrections.json"] = job.corrections_path.read_bytes()
    note = " ".join(str(approval.get("note") or "").split())
    build_package(job.output, None, target, extra_files=extra,
                  extra_info={"Restore-Approved-By": approval["who"], "Restore-Approved-At": approval["when"],
                              **({"Restore-Approval-Note": note} if note else {})})
    progress.set(phase="checking the package")
    report = verify_package(target)
    write_json_durably(job.folder / "package-report.json", {**report.as_dict(), "checked": now()})
    job.update(package=target.name, package_valid=report.exit_code == 0)
    if report.exit_code != 0:
        raise UserError(f"the package {target.name} did not verify (see package-report.json)")
    progress.set(phase="done")


def _terminate(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m restore.serve.worker")
    parser.add_argument("job")
    parser.add_argument("--root", required=True)
    parser.add_argument("--segment-frames", type=int, default=DEFAULT_SEGMENT_FRAMES)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    job = Job(Path(args.job))
    task = job.data.get("task", "restore")
    job.update(state="running", started=now(), error=None)
    try:
        if task == "package":
            package(job)
        else:
            restore(job, Path(args.root).resolve(), args.segment_frames)
    except KeyboardInterrupt:
        job.update(state="cancelled", finished=now())
        Progress(job.folder / "progress.json").set(**{**(read_json(job.folder / "progress.json") or {}),
                                                      "phase": "cancelled (committed segments are kept)"})
        return 130
    except Exception as exc:
        reason = str(exc) if isinstance(exc, UserError) else f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
        job.update(state="failed", error=reason.splitlines()[0] if reason else "failed", finished=now())
        return 1
    job.update(state="done", finished=now())
    return 0


if __name__ == "__main__":
    sys.exit(main())
