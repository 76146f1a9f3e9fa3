"""The workbench's queue: jobs run one after another, each in its own worker process.

State lives in each job's ``job.json`` (queued → running → done | failed | cancelled), so every tab,
and a restarted server, sees the same thing. A cancelled job keeps its committed segments: *Resume*
queues it again and it goes on from there (the batch journal). One worker at a time also means one
writer per output; the batch machinery's locks enforce it anyway.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

from restore import resources
from restore.serve.store import Job, JobStore, now


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Runner:
    def __init__(self, store: JobStore, *, segment_frames: int = 250, poll: float = 0.3):
        self.store = store
        self.segment_frames = segment_frames
        self.poll = poll
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._current: tuple[Job, subprocess.Popen | None, int] | None = None
        self._thread: threading.Thread | None = None

    # --- control ------------------------------------------------------------------------
    def start(self) -> None:
        self._recover()
        self._thread = threading.Thread(target=self._loop, name="restore-serve-queue", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """The server is going away: the running job is interrupted (it resumes from its journal)."""
        self._stop.set()
        self._wake.set()
        with self._lock:
            current = self._current
        if current is not None:
            job, proc, pid = current
            self._signal(pid, signal.SIGTERM)
            if proc is not None:
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    self._kill_group(pid)
            if job.data.get("state") == "running":
                job.update(state="interrupted")
        if self._thread is not None:
            self._thread.join(timeout=5)

    def submit(self, job: Job, task: str = "restore") -> None:
        if job.data.get("state") in ("queued", "running"):
            return
        job.update(state="queued", task=task, queued_at=now(), error=None)
        self._wake.set()

    def cancel(self, job: Job) -> None:
        with self._lock:
            current = self._current
        if current is not None and current[0].id == job.id:
            job.update(cancel_requested=now())
            self._signal(current[2], signal.SIGTERM)
            threading.Thread(target=self._reap, args=(current,), daemon=True).start()
        elif job.data.get("state") == "queued":
            job.update(state="cancelled")

    # --- internals ----------------------------------------------------------------------
    def _recover(self) -> None:
        """After a restart: a worker that is still alive stays current; one that died is 'interrupted'."""
        for job in self.store.all():
            data = job.data
            if data.get("state") != "running":
                continue
            if _alive(data.get("pid")) and self._current is None:
                self._current = (job, None, data["pid"])
            else:
                job.update(state="interrupted")

    def _loop(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                if self._current is not None and self._finished(self._current):
                    self._settle(self._current)
                    self._current = None
                if self._current is None:
                    nxt = self._next()
                    if nxt is not None:
                        self._current = self._launch(nxt)
            self._wake.wait(self.poll)
            self._wake.clear()

    def _next(self) -> Job | None:
        queued = [j for j in self.store.all() if j.data.get("state") == "queued"]
        return min(queued, key=lambda j: j.data.get("queued_at") or "", default=None)

    def _launch(self, job: Job) -> tuple[Job, subprocess.Popen, int]:
        log = open(job.folder / "worker.log", "ab")
        cmd = [sys.executable, "-m", "restore.serve.worker", str(job.folder), "--root", str(self.store.root),
               "--segment-frames", str(self.segment_frames)]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            p for p in [str(resources.import_root()), os.environ.get("PYTHONPATH")] if p)}
        job.update(state="running", started=now(), cancel_requested=None)
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                start_new_session=True)
        log.close()
        job.update(pid=proc.pid)
        return job, proc, proc.pid

    def _finished(self, current) -> bool:
        _, proc, pid = current
        return proc.poll() is not None if proc is not None else not _alive(pid)

    def _settle(self, current) -> None:
        job, proc, _ = current
        code = proc.returncode if proc is not None else None
        if job.data.get("state") == "running":     # the worker died without saying how it ended
            job.update(state="cancelled" if job.data.get("cancel_requested") else "failed",
                       error=None if job.data.get("cancel_requested") else
                       f"the worker stopped unexpectedly (exit {code}); see worker.log", finished=now())

    def _reap(self, current, grace: float = 20.0) -> None:
        job, proc, pid = current
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and not self._finished(current):
            time.sleep(0.2)
        if not self._finished(current):
            self._kill_group(pid)
        self._wake.set()

    @staticmethod
    def _signal(pid: int, sig: int) -> None:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass

    @staticmethod
    def _kill_group(pid: int) -> None:
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
