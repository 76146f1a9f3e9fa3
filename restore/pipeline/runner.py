"""The runner: builds a pipeline's stages and pulls frames through them.

It is handed a stream of frames and returns a stream of frames; it knows nothing
of files. It tells each stage the format it receives, measures where time goes,
and checks that every stage keeps the promised frame count.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from restore.errors import StageError
from restore.frame import Frame, VideoFormat
from restore.pipeline.spec import PipelineSpec
from restore.stages.base import Stage, StageContext


def resolve_device(requested: str = "auto") -> str:
    """The device a run (or a training) uses: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``; a CUDA device that is
    not there, or another name, is the user's to fix."""
    if requested in ("", "auto"):
        if "torch" not in sys.modules:
            # no stage of this pipeline runs a model (model stages import torch when loaded):
            # importing it only to ask about CUDA would cost half a gigabyte of memory
            return "cpu"
        try:
            import torch

            return "cuda" if torch.cuda.is_available() else "cpu"
        except ImportError:
            return "cpu"
    if requested.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            from restore.errors import UserError

            raise UserError(f"--device {requested}: no CUDA device is available here (use --device cpu or auto)")
    elif requested != "cpu":
        from restore.errors import UserError

        raise UserError(f"unknown device '{requested}' (auto, cpu, cuda or cuda:N)")
    return requested


def configure_threads() -> int:
    """Use the cores we are allowed (cgroup/affinity), not the host's count."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(max(1, cores))
    return cores


@dataclass
class StageTiming:
    name: str
    seconds: float = 0.0
    frames_in: int = 0
    frames_out: int = 0

    def as_dict(self) -> dict[str, Any]:
        per = self.seconds / self.frames_out if self.frames_out else None
        return {"stage": self.name, "seconds": round(self.seconds, 4), "frames_in": self.frames_in,
                "frames_out": self.frames_out, "seconds_per_frame": round(per, 5) if per is not None else None}


@dataclass
class Pipeline:
    spec: PipelineSpec
    source_format: VideoFormat
    device: str = "cpu"
    batch_size: int = 4
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)
    report: Callable[[dict[str, Any]], None] | None = None
    # the clip's first frames, for stages that must see them to know their output format
    # (``Stage.preview_frames``; ``PipelineSpec.preview_frames()`` says how many); dropped
    # once the formats are known
    preview: Sequence[np.ndarray] = ()
    stages: list[Stage] = field(default_factory=list)
    formats: list[VideoFormat] = field(default_factory=list)   # formats[i] = input of stage i; last = output
    timings: list[StageTiming] = field(default_factory=list)

    def __post_init__(self) -> None:
        fmt = self.source_format
        self.formats = [fmt]
        for spec in self.spec.stages:
            ctx = StageContext(device=self.device, batch_size=self.batch_size, seed=self.seed,
                               source_format=self.source_format, input_format=fmt, options=dict(self.options),
                               report=self.report, preview=self.preview)
            stage = spec.cls(spec.params, ctx)
            fmt = stage.output_format(fmt)
            self.stages.append(stage)
            self.formats.append(fmt)
            self.timings.append(StageTiming(spec.name))
        # the preview frames served their purpose (formats are known): do not hold them for the run
        self.preview = ()
        for stage in self.stages:
            stage.context.preview = ()

    @property
    def output_format(self) -> VideoFormat:
        return self.formats[-1]

    @property
    def frame_ratio(self) -> int:
        ratio = 1
        for stage in self.stages:
            ratio *= stage.frame_ratio
        return ratio

    def setup(self) -> None:
        for stage in self.stages:
            stage.setup()

    def close(self) -> None:
        for stage in self.stages:
            try:
                stage.close()
            except Exception:  # closing must not hide the error that stopped the job
                pass

    def describe(self) -> list[dict[str, Any]]:
        return [stage.describe() for stage in self.stages]

    def models(self) -> list[dict[str, Any]]:
        return [m for stage in self.stages for m in stage.models()]

    def run(self, frames: Iterator[Frame]) -> Iterator[Frame]:
        stream = frames
        for stage, timing in zip(self.stages, self.timings):
            stream = _timed(stage, timing, stream)
        return stream


def _timed(stage: Stage, timing: StageTiming, upstream: Iterator[Frame]) -> Iterator[Frame]:
    """Run one stage, charging it only for time spent inside it (not in its upstream)."""
    pulled = [0.0]

    def source() -> Iterator[Frame]:
        it = iter(upstream)
        while True:
            t0 = time.perf_counter()
            try:
                frame = next(it)
            except StopIteration:
                pulled[0] += time.perf_counter() - t0
                return
            pulled[0] += time.perf_counter() - t0
            timing.frames_in += 1
            yield frame

    out = stage.run(source())
    while True:
        t0 = time.perf_counter()
        before = pulled[0]
        try:
            frame = next(out)
        except StopIteration:
            timing.seconds += (time.perf_counter() - t0) - (pulled[0] - before)
            break
        except StageError:
            raise
        except Exception as exc:
            raise StageError(stage.name, timing.frames_in, exc) from exc
        spent = (time.perf_counter() - t0) - (pulled[0] - before)
        timing.seconds += spent
        timing.frames_out += 1
        # per-frame cost, for the review report (batched stages charge the batch to its first frame)
        frame.notes.setdefault("stage_seconds", {})[stage.name] = round(spent, 5)
        yield frame
    expected = timing.frames_in * stage.frame_ratio
    if timing.frames_out != expected:
        raise StageError(stage.name, timing.frames_in,
                         f"produced {timing.frames_out} frames from {timing.frames_in}, expected {expected}")
