"""The state of a batch, for people (progress lines, the summary table) and for machines (a JSON file).

The status file is rewritten atomically (at most once a second, and at every change of a
job's state), so a monitoring script never reads half a file. Format ``restore-batch-status``
version 1: ``{"format", "version", "job_file", "executor", "started", "updated", "state",
"overall": {...}, "jobs": [{...}]}``; each job has ``state`` (pending, running, assembling,
done, skipped, failed), ``frames_done``/``frames_total``, ``fps``, ``eta_s``, ``error`` (one
line) and, when done, ``energy`` with kWh and gCO2e per restored minute.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from restore.batch.durable import write_json_durably
from restore.clock import hms, utc_stamp

STATUS_FORMAT = "restore-batch-status"


_now = utc_stamp   # restore.clock


@dataclass
class JobStatus:
    job_id: str
    source: str
    output: str
    state: str = "pending"
    frames_total: int | None = None
    frames_done: int = 0
    segments_total: int | None = None
    segments_done: int = 0
    fps: float = 0.0
    eta_s: float | None = None
    seconds: float = 0.0
    restored_minutes: float | None = None
    error: str | None = None
    energy: dict | None = None
    provenance: str | None = None
    notes: list[str] = field(default_factory=list)
    _t0: float | None = field(default=None, repr=False)
    _done_at_start: int = field(default=0, repr=False)

    def start(self) -> None:
        """The first segment of this session is under way: fps and ETA count from here."""
        self.state = "running"
        self._t0 = time.monotonic()
        self._done_at_start = self.frames_done

    def advance(self, frames_done: int) -> None:
        if self._t0 is None:
            self.start()
        self.frames_done = frames_done
        self.seconds = time.monotonic() - self._t0
        fresh = frames_done - self._done_at_start    # frames restored in this session only
        self.fps = fresh / self.seconds if self.seconds > 0 else 0.0
        if self.fps > 0 and self.frames_total:
            self.eta_s = max(0.0, (self.frames_total - frames_done) / self.fps)

    def as_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if not k.startswith("_")}


class BatchStatus:
    def __init__(self, path: Path, job_file: Path, executor: str):
        self.path = Path(path)
        self.job_file = job_file
        self.executor = executor
        self.started = _now()
        self.jobs: dict[str, JobStatus] = {}
        self.state = "running"
        self._t0 = time.monotonic()
        self._written = 0.0
        self.write_error: str | None = None

    def add(self, job_id: str, source: Path, output: Path) -> JobStatus:
        self.jobs[job_id] = JobStatus(job_id, str(source), str(output))
        return self.jobs[job_id]

    def overall(self) -> dict:
        jobs = list(self.jobs.values())
        total = sum(j.frames_total or 0 for j in jobs if j.state not in ("failed", "skipped"))
        done = sum(j.frames_done for j in jobs if j.state not in ("failed", "skipped"))
        fresh = sum(j.frames_done - j._done_at_start for j in jobs if j._t0 is not None)
        elapsed = time.monotonic() - self._t0
        fps = fresh / elapsed if elapsed > 0 else 0.0
        counts = {s: sum(j.state == s for j in jobs) for s in ("pending", "running", "assembling", "done",
                                                               "skipped", "failed")}
        return {"frames_done": done, "frames_total": total, "fps": round(fps, 3),
                "eta_s": round((total - done) / fps, 1) if fps > 0 else None, "seconds": round(elapsed, 1),
                "jobs": counts}

    def write(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._written < 1.0:
            return
        self._written = now
        try:
            self._write()
        except OSError as exc:   # a full disk must fail the jobs that need space, not the whole batch
            self.write_error = f"cannot write the status file {self.path}: {exc.strerror}"
        else:
            self.write_error = None

    def _write(self) -> None:
        write_json_durably(self.path, {
            "format": STATUS_FORMAT, "version": 1, "job_file": str(self.job_file), "executor": self.executor,
            "started": self.started, "updated": _now(), "state": self.state, "overall": self.overall(),
            "jobs": [j.as_dict() for j in self.jobs.values()]})

    @staticmethod
    def read(path: Path) -> dict:
        return json.loads(Path(path).read_text())


def _clock(seconds: float | None) -> str:
    return "--:--:--" if seconds is None else hms(seconds)


class BatchDisplay:
    """Per-job lines and an overall line: redrawn in place on a terminal, printed every few seconds otherwise."""

    def __init__(self, status: BatchStatus, stream=None, quiet: bool = False, json_lines: bool = False):
        self.status = status
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.json_lines = json_lines
        self.tty = self.stream.isatty() and not json_lines
        self.interval = 0.5 if self.tty else 10.0
        self._last = 0.0
        self._drawn = 0

    def update(self, force: bool = False) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        overall = self.status.overall()
        if self.json_lines:
            for job in self.status.jobs.values():
                if job.state in ("running", "assembling"):
                    self._emit({"event": "progress", "job": job.job_id, "state": job.state, "frames": job.frames_done,
                                "total": job.frames_total, "fps": round(job.fps, 3), "eta_s": job.eta_s})
            self._emit({"event": "overall", **overall})
            return
        jobs = self.status.jobs.values()
        lines = [self._job_line(j) for j in jobs if self.tty or j.state in ("running", "assembling")]
        lines.append(f"overall: {overall['frames_done']}/{overall['frames_total']} frames, {overall['fps']:.2f} fps, "
                     f"ETA {_clock(overall['eta_s'])}; " + ", ".join(f"{n} {s}" for s, n in overall["jobs"].items()
                                                                      if n))
        if self.tty:
            up = f"\x1b[{self._drawn}F" if self._drawn else ""
            self.stream.write(up + "".join(line[:160] + "\x1b[K\n" for line in lines))
            self._drawn = len(lines)
        else:
            self.stream.write("".join(line + "\n" for line in lines))
        self.stream.flush()

    def event(self, job: JobStatus) -> None:
        """A job changed state: JSON consumers hear it at once; terminals see it on the next redraw."""
        if self.json_lines and not self.quiet:
            self._emit({"event": "job", "job": job.job_id, "state": job.state, "error": job.error,
                        "output": job.output})
        elif not self.tty and not self.quiet and job.state in ("done", "failed", "skipped"):
            self.stream.write(self._job_line(job) + "\n")
            self.stream.flush()

    def _emit(self, data: dict) -> None:
        self.stream.write(json.dumps(data, default=str) + "\n")
        self.stream.flush()

    @staticmethod
    def _job_line(job: JobStatus) -> str:
        total = job.frames_total or 0
        pct = f"{100 * job.frames_done / total:5.1f}%" if total else "    ?"
        extra = f" - {job.error}" if job.error else ""
        return (f"{job.job_id}: {job.state:<10} {pct} {job.frames_done}/{total or '?'} frames "
                f"{job.fps:6.2f} fps ETA {_clock(job.eta_s)}{extra}")


def summary_table(status: BatchStatus) -> list[str]:
    """The end-of-batch table: one row per job, then the totals."""
    header = ("job", "state", "frames", "time", "fps", "kWh/min", "gCO2e/min", "output / reason")
    rows = []
    for j in status.jobs.values():
        e = j.energy or {}
        rows.append((j.job_id, j.state, f"{j.frames_done}/{j.frames_total or '?'}", _clock(j.seconds),
                     f"{j.fps:.2f}", _num(e.get("kwh_per_minute"), "{:.2e}"), _num(e.get("gco2e_per_minute"), "{:.3f}"),
                     j.error or j.output))
    overall = status.overall()
    from restore.energy import combine

    # jobs that ran at the same time read the same machine counters: counted once (restore.energy.combine)
    total = combine([j.energy for j in status.jobs.values()]) or {}
    kwh, gco2e = total.get("kwh", 0.0), total.get("gco2e", 0.0)
    minutes = sum(j.restored_minutes or 0.0 for j in status.jobs.values() if j.energy)
    rows.append(("total", ", ".join(f"{n} {s}" for s, n in overall["jobs"].items() if n),
                 f"{overall['frames_done']}/{overall['frames_total']}", _clock(overall["seconds"]),
                 f"{overall['fps']:.2f}", _num(kwh / minutes if minutes else None, "{:.2e}"),
                 _num(gco2e / minutes if minutes else None, "{:.3f}"), str(status.path)))
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*header), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*map(str, r)) for r in rows]
    if any((j.energy or {}).get("is_estimate") for j in status.jobs.values()):
        lines.append("energy: estimated from CPU time (no hardware counters here); see each job's provenance")
    return lines


def _num(value: float | None, pattern: str) -> str:
    return "-" if value is None else pattern.format(value)
