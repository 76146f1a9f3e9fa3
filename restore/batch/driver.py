"""``restore batch``: every job of a job file, segment by segment, on one executor.

The driver is the only writer of journals, outputs and the status file; executors only
compute segments. A job that fails (unreadable input, a stage error, a full disk) is
marked failed with its reason and its remaining segments are skipped; the other jobs go
on. Running the same command again resumes every unfinished job from its journal.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from typing import Iterator

from restore.batch.executors import Executor
from restore.batch.jobfile import BatchJob, JobFile
from restore.batch.lock import WorkLock
from restore.batch.segments import SegmentedJob, SegmentResult, SegmentTask
from restore.batch.status import BatchDisplay, BatchStatus, JobStatus
from restore.errors import UserError


@dataclass
class BatchOutcome:
    status: BatchStatus

    @property
    def failed(self) -> list[JobStatus]:
        return [j for j in self.status.jobs.values() if j.state == "failed"]


def _reason(exc: BaseException) -> str:
    if isinstance(exc, UserError):
        return str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    # a bug or a crashed worker: one line here, the traceback in the status file's notes
    return f"{type(exc).__name__}: {exc}".splitlines()[0]


class BatchRun:
    def __init__(self, job_file: JobFile, executor: Executor, display: BatchDisplay | None = None):
        self.jf = job_file
        self.executor = executor
        self.status = BatchStatus(job_file.status_path, job_file.path, executor.describe())
        self.display = display
        self.jobs: dict[str, SegmentedJob] = {}
        self.inflight: dict[tuple[str, int], int] = {}

    def run(self) -> BatchOutcome:
        with WorkLock(self.jf.lock_path, f"the job file {self.jf.path}"):
            if self.display is not None:
                self.display.status = self.status
            for batch_job in self.jf.jobs:
                self.status.add(batch_job.job_id, batch_job.source, batch_job.output)
            self._tick(force=True)
            try:
                for task, outcome in self.executor.run(self._tasks(), progress=self._progress,
                                                       skip=lambda t: t.job_id not in self.jobs):
                    self.inflight.pop((task.job_id, task.segment.index), None)
                    if task.job_id not in self.jobs:
                        continue
                    if isinstance(outcome, BaseException):
                        self._fail(task.job_id, outcome, f"segment {task.segment.index} "
                                                         f"(frames {task.segment.start}-{task.segment.end - 1}): ")
                        continue
                    self._commit(task.job_id, outcome)
            finally:
                for job in self.jobs.values():
                    job.close()
                self.status.state = "interrupted" if self.jobs else "finished"
                self.status.write(force=True)
            if self.display is not None:
                self.display.update(force=True)
        return BatchOutcome(self.status)

    # --- job life ---------------------------------------------------------------------
    def _tasks(self) -> Iterator[SegmentTask]:
        """Each job's pending segments, the job opened only when the executor asks for its first one."""
        for batch_job in self.jf.jobs:
            pending = self._open(batch_job)
            job = self.jobs.get(batch_job.job_id)
            if job is not None and job.complete:   # all committed by an earlier, interrupted run
                self._assemble(batch_job.job_id)
            yield from pending

    def _open(self, batch_job: BatchJob) -> list[SegmentTask]:
        st = self.status.jobs[batch_job.job_id]
        work = batch_job.output.parent / f".{batch_job.output.name}.work"
        if batch_job.output.exists() and not work.exists() and not self.jf.options.overwrite:
            st.state = "skipped"
            st.error = "output exists (set options.overwrite to redo it)"
            self._event(st)
            return []
        try:
            job = SegmentedJob(batch_job.source, batch_job.output, self.jf.spec, self.jf.options,
                               segment_frames=self.jf.segment_frames, job_id=batch_job.job_id)
            pending = job.open()
        except Exception as exc:
            self._fail_status(st, exc)
            return []
        self.jobs[batch_job.job_id] = job
        st.frames_total = job.frames_out
        st.segments_total = len(job.segments)
        st.segments_done = len(job.segments) - len(pending)
        st.notes = list(job.notes)
        st.frames_done = job.frames_done
        self._event(st)
        return pending

    def _commit(self, job_id: str, result: SegmentResult) -> None:
        job, st = self.jobs[job_id], self.status.jobs[job_id]
        try:
            job.commit(result)
        except Exception as exc:
            self._fail(job_id, exc)
            return
        st.segments_done += 1
        st.advance(job.frames_done)
        self._tick(force=True)
        if job.complete:
            self._assemble(job_id)

    def _assemble(self, job_id: str) -> None:
        job, st = self.jobs[job_id], self.status.jobs[job_id]
        st.state = "assembling"
        self._event(st)
        try:
            result = job.assemble()
        except Exception as exc:
            self._fail(job_id, exc, "assembling the output: ")
            return
        job.close()
        del self.jobs[job_id]
        st.advance(job.frames_out)
        st.state = "done"
        st.notes = result.notes
        energy = (result.record or {}).get("energy")
        if energy:
            # parts (with the counters' spans) and the time bounds: the batch total counts a machine counter
            # once where jobs overlapped (restore.energy.combine)
            st.energy = {k: energy.get(k) for k in ("kwh", "gco2e", "kwh_per_minute", "gco2e_per_minute",
                                                    "method", "is_estimate", "grid_gco2_per_kwh", "seconds",
                                                    "started_at", "ended_at", "parts") if k in energy}
            st.restored_minutes = energy.get("restored_minutes")
        if result.provenance:
            st.provenance = str(result.provenance.get("provenance"))
        self._event(st)

    def _fail(self, job_id: str, exc: BaseException, where: str = "") -> None:
        job = self.jobs.pop(job_id, None)
        if job is not None:
            job.close()
        self._fail_status(self.status.jobs[job_id], exc, where)

    def _fail_status(self, st: JobStatus, exc: BaseException, where: str = "") -> None:
        st.state = "failed"
        st.error = where + _reason(exc)
        if not isinstance(exc, UserError):
            st.notes.append("".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-2000:])
        self._event(st)

    # --- reporting --------------------------------------------------------------------
    def _progress(self, job_id: str, segment: int, kept: int) -> None:
        job = self.jobs.get(job_id)
        if job is None or str(segment) in job.journal.get("segments", {}):
            return      # a late message from a worker about a segment already committed
        self.inflight[(job_id, segment)] = kept * job.frame_ratio
        running = sum(v for (j, _), v in self.inflight.items() if j == job_id)
        self.status.jobs[job_id].advance(job.frames_done + running)
        self._tick()

    def _event(self, st: JobStatus) -> None:
        if self.display is not None:
            self.display.event(st)
        self._tick(force=True)

    def _tick(self, force: bool = False) -> None:
        self.status.write(force=force)
        if self.display is not None:
            self.display.update(force=False)


def run_batch(job_file: JobFile, executor: Executor, display: BatchDisplay | None = None) -> BatchOutcome:
    return BatchRun(job_file, executor, display).run()
