"""Where segments run: this process, a pool of local processes, or Ray tasks.

Every executor takes the same ``SegmentTask``s and yields ``(task, SegmentResult | exception)``
as segments finish, in any order; the driver alone commits results to the journals and
assembles outputs in frame order. Workers only write their own segment file (temp name,
renamed when complete), so a dead worker never corrupts committed work.

Tasks are handed out lazily (at most ``capacity`` in flight), so that the segments of a
job that has already failed are skipped instead of queued.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Iterable, Iterator

from restore.batch.segments import SegmentResult, SegmentTask, process_segment
from restore.errors import UserError

# (job_id, segment index, frames kept so far in that segment)
ProgressFn = Callable[[str, int, int], None]
Outcome = tuple[SegmentTask, "SegmentResult | BaseException"]


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _set_threads(threads: int) -> None:
    os.environ["OMP_NUM_THREADS"] = str(threads)
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        pass


class _Throttle:
    """Progress from a worker at most every ``interval`` seconds (and always the last frame)."""

    def __init__(self, send: Callable[[tuple], None], task: SegmentTask, interval: float = 0.5):
        self.send, self.task, self.interval, self.last = send, task, interval, 0.0

    def __call__(self, kept: int) -> None:
        now = time.monotonic()
        if now - self.last >= self.interval or kept == self.task.segment.count:
            self.last = now
            self.send((self.task.job_id, self.task.segment.index, kept))


class Executor:
    name = "executor"
    capacity = 1

    def run(self, tasks: Iterable[SegmentTask], progress: ProgressFn | None = None,
            skip: Callable[[SegmentTask], bool] = lambda task: False) -> Iterator[Outcome]:
        pending = iter(tasks)     # pulled lazily: the driver opens (probes, locks) a job only when it is due
        inflight: dict = {}
        exhausted = False
        while True:
            while not exhausted and len(inflight) < self.capacity:
                task = next(pending, None)
                if task is None:
                    exhausted = True
                elif not skip(task):
                    inflight[self._submit(task)] = task
            if not inflight:
                return
            for handle in self._wait(list(inflight), progress):
                yield inflight.pop(handle), self._result(handle)

    def _submit(self, task: SegmentTask):
        raise NotImplementedError

    def _wait(self, handles: list, progress: ProgressFn | None) -> list:
        raise NotImplementedError

    def _result(self, handle) -> SegmentResult | BaseException:
        raise NotImplementedError

    def describe(self) -> str:
        return self.name

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class InlineExecutor(Executor):
    """One segment after another in this process (``--workers 1``): no start-up cost, no pickling."""

    name = "local"

    def __init__(self):
        from restore.pipeline.runner import configure_threads

        configure_threads()

    def run(self, tasks, progress=None, skip=lambda task: False) -> Iterator[Outcome]:
        for task in tasks:
            if skip(task):
                continue
            report = _Throttle(lambda msg: progress(*msg), task) if progress is not None else None
            try:
                yield task, process_segment(task, report)
            except Exception as exc:  # the driver decides what a failed segment means for its job
                yield task, exc

    def describe(self) -> str:
        return "local, 1 worker (in process)"


_worker_progress = None


def _init_pool_worker(progress_queue, threads: int) -> None:
    global _worker_progress
    _worker_progress = progress_queue
    _set_threads(threads)


def _pool_segment(task: SegmentTask) -> SegmentResult:
    report = _Throttle(_worker_progress.put, task) if _worker_progress is not None else None
    return process_segment(task, report)


class LocalPoolExecutor(Executor):
    """``--workers N``: N processes on this machine, the cores shared out among them."""

    name = "local"

    def __init__(self, workers: int):
        self.capacity = workers
        self.threads = max(1, available_cores() // workers)
        self._ctx = multiprocessing.get_context("spawn")   # fork would copy torch's thread pools mid-flight
        self._progress = self._ctx.Queue()
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self.capacity, mp_context=self._ctx, initializer=_init_pool_worker,
                                   initargs=(self._progress, self.threads))

    def _submit(self, task):
        try:
            return self._pool.submit(_pool_segment, task)
        except BrokenProcessPool:
            # a worker died (OOM killer, segfault): its segments fail with that reason, the batch goes on
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()
            return self._pool.submit(_pool_segment, task)

    def _wait(self, handles, progress):
        while True:
            done, _ = wait(handles, timeout=0.25, return_when=FIRST_COMPLETED)
            self._drain(progress)
            if done:
                return list(done)

    def _drain(self, progress: ProgressFn | None) -> None:
        while True:
            try:
                msg = self._progress.get_nowait()
            except (queue.Empty, OSError, ValueError):
                return
            if progress is not None:
                progress(*msg)

    def _result(self, handle):
        try:
            return handle.result()
        except Exception as exc:
            return exc

    def describe(self) -> str:
        return f"local, {self.capacity} worker processes x {self.threads} threads"

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._progress.close()


def _ray_segment(task: SegmentTask, progress_actor) -> SegmentResult:
    report = None
    if progress_actor is not None:
        report = _Throttle(lambda msg: progress_actor.put_nowait(msg), task, interval=1.0)
    return process_segment(task, report)


class RayExecutor(Executor):
    """Segments as Ray tasks on a local Ray instance (default) or an existing cluster (``address``).

    Each task asks for ``cpus_per_task`` CPUs and ``gpus_per_task`` GPUs; Ray re-runs a task
    whose worker process or node died (``max_retries``). Segments are written by the task
    straight into the job's work folder, so on a cluster that folder must be on storage
    every node mounts at the same path; committed segments live there and in the driver's
    journal, so losing a node loses only the segments it was computing.
    """

    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None, cpus_per_task: float = 1,
                 gpus_per_task: float = 0, max_retries: int = 3):
        try:
            import ray
        except ImportError:
            raise UserError("--executor ray needs Ray: pip install 'restore[ray]' (or pip install ray)") from None
        self.ray = ray
        self._started = False
        if not ray.is_initialized():
            kwargs = dict(include_dashboard=False, log_to_driver=False, configure_logging=False)
            try:
                if address:
                    ray.init(address=address, **kwargs)
                else:
                    ray.init(num_cpus=workers or available_cores(), num_gpus=_local_gpus(), **kwargs)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise UserError(f"cannot start or reach Ray{' at ' + address if address else ''}: {exc}") from None
            self._started = True
        total_cpus = ray.cluster_resources().get("CPU", 1)
        self.capacity = max(1, int(workers or total_cpus // max(cpus_per_task, 1e-3)))
        threads = max(1, int(cpus_per_task))
        self._remote = ray.remote(num_cpus=cpus_per_task, num_gpus=gpus_per_task, max_retries=max_retries,
                                  runtime_env={"env_vars": {"OMP_NUM_THREADS": str(threads)}})(_ray_segment)
        from ray.util.queue import Queue

        self._progress = Queue()
        self.address = address
        self.cpus_per_task, self.gpus_per_task, self.max_retries = cpus_per_task, gpus_per_task, max_retries

    def _submit(self, task):
        return self._remote.remote(task, self._progress)

    def _wait(self, handles, progress):
        while True:
            done, _ = self.ray.wait(handles, num_returns=1, timeout=0.5)
            self._drain(progress)
            if done:
                return done

    def _drain(self, progress: ProgressFn | None) -> None:
        try:
            messages = self._progress.get_nowait_batch(self._progress.qsize())
        except Exception:   # the queue actor is best effort: progress must never fail a job
            return
        if progress is not None:
            for msg in messages:
                progress(*msg)

    def _result(self, handle):
        try:
            return self.ray.get(handle)
        except self.ray.exceptions.RayTaskError as exc:
            cause = exc.as_instanceof_cause()
            return cause if isinstance(cause, BaseException) else exc
        except Exception as exc:   # worker or node lost beyond max_retries, object lost, …
            return exc

    def describe(self) -> str:
        where = self.address or "local instance"
        return (f"ray ({where}), {self.capacity} tasks in flight, {self.cpus_per_task} CPU"
                f"{f' + {self.gpus_per_task} GPU' if self.gpus_per_task else ''} per task, "
                f"{self.max_retries} retries")

    def close(self) -> None:
        if self._started:
            self.ray.shutdown()


def _local_gpus() -> int:
    try:
        import torch

        return torch.cuda.device_count()
    except ImportError:
        return 0


def make_executor(kind: str = "local", workers: int = 1, address: str | None = None, cpus_per_task: float = 1,
                  gpus_per_task: float = 0) -> Executor:
    if kind == "ray":
        return RayExecutor(address=address, workers=workers if workers > 1 else None, cpus_per_task=cpus_per_task,
                           gpus_per_task=gpus_per_task)
    if kind != "local":
        raise UserError(f"unknown executor '{kind}' (use local or ray)")
    if address:
        raise UserError("--ray-address needs --executor ray")
    return InlineExecutor() if workers <= 1 else LocalPoolExecutor(workers)
