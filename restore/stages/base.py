"""The one stage interface.

A stage turns a stream of frames into a stream of frames (VapourSynth's model of a
filter over a clip). Three shapes cover every stage, and the plumbing for each is
written once here, not per stage:

* ``FrameStage``  — per-frame work (radius 0); frames arrive in batches of
  ``context.batch_size`` so models can run batched;
* ``WindowStage`` — temporal work over ±``radius`` neighbours; the window slides
  over the stream (bounded memory) and is clamped at the clip's ends;
* ``Stage``       — anything else (frame-rate changes, external filter processes):
  override ``run``.

Stages never touch files: they are handed frames and a ``StageContext``.
"""

from __future__ import annotations

import collections
import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Iterable, Iterator, Sequence

import numpy as np

from restore.errors import StageError
from restore.frame import Frame, VideoFormat


@dataclass
class StageContext:
    """What the runner tells a stage about the job (never a path to write to)."""

    device: str = "cpu"                # resolved device: "cpu", "cuda", "cuda:1"
    batch_size: int = 4
    seed: int = 0
    source_format: VideoFormat | None = None   # the decoded input's format
    input_format: VideoFormat | None = None    # the format this stage receives
    precision: str = "auto"            # auto | fp32 | fp16 | bf16
    tile: int = 0                      # 0 = automatic
    report: Callable[[dict[str, Any]], None] | None = None  # per-stage facts (events)
    options: dict[str, Any] = field(default_factory=dict)  # job-wide overrides (--scale, --size)
    # the clip's first frames (RGB float32), decoded once by the job for stages whose
    # ``preview_frames(params)`` asks for them; the runner drops them once formats are known
    preview: Sequence[np.ndarray] = ()

    def emit(self, **event: Any) -> None:
        if self.report is not None:
            self.report(event)


@dataclass(frozen=True)
class NoParams:
    pass


class Stage:
    """Base class: the contract every stage keeps.

    Class facts (the same for every instance): ``name``, ``Params`` and ``resizes``.
    Instance facts, declared here with their defaults and set by a subclass either in its
    class body or in ``__init__`` when they depend on the parameters:

    * ``radius``      — frames each side the stage reads (its temporal window);
    * ``frame_ratio`` — output frames per input frame (2: field-rate deinterlace);
    * ``warmup``      — frames of history a stage with recursive state (trackers, IIR
      filters) needs before its output comes within a few levels of a run from the clip's
      start (the same bits are out of reach: the state holds the whole past); a batch
      segment starts ``radius + warmup`` frames early.

    Queries — ``output_format``, ``models``, ``describe`` — never load weights or start
    helpers; ``setup`` does, once, before the first frame.
    """

    name: ClassVar[str] = ""
    Params: ClassVar[type[Any]] = NoParams
    # the stage honours the job's --scale/--size (``context.options``): a job that asks for
    # either needs at least one such stage
    resizes: ClassVar[bool] = False

    radius: int = 0
    frame_ratio: int = 1
    warmup: int = 0

    def __init__(self, params: Any, context: StageContext):
        self.params = params
        self.context = context

    # --- description -------------------------------------------------------------
    @classmethod
    def check_params(cls, params: Any) -> tuple[str, str] | None:
        """Checks beyond types, run when a pipeline is loaded (e.g. that weights exist).

        Returns (key, message) for the first problem, or None.
        """
        return None

    @classmethod
    def pipeline_notes(cls, params: Any, earlier: list[Any]) -> list[str]:
        """Notes on where the stage stands in its pipeline, for the run's record (``earlier``: the
        StageSpecs before it), e.g. a model trained to follow another stage that does not precede it."""
        return []

    @classmethod
    def preview_frames(cls, params: Any) -> int:
        """How many of the clip's first frames the stage must see before it can say its output
        format (e.g. border detection); the job decodes them once and passes them in
        ``context.preview``."""
        return 0

    def output_format(self, fmt: VideoFormat) -> VideoFormat:
        """The format of the frames this stage emits, given what it receives."""
        return fmt

    def models(self) -> list[dict[str, Any]]:
        """Models this stage runs: [{'name', 'sha256', 'card_sha256', ...}] for provenance."""
        return []

    def describe(self) -> dict[str, Any]:
        return {"stage": self.name, "params": dataclasses.asdict(self.params), "models": self.models()}

    # --- lifecycle -----------------------------------------------------------------
    def setup(self) -> None:
        """Load models, start helpers. Called once before the first frame."""

    def close(self) -> None:
        """Release what setup acquired (also called after an error)."""

    def run(self, frames: Iterator[Frame]) -> Iterator[Frame]:
        raise NotImplementedError


class FrameStage(Stage):
    """Per-frame stage: implement ``process_batch`` (or ``process`` for one frame)."""

    def process(self, frame: Frame) -> Frame:
        raise NotImplementedError

    def process_batch(self, frames: list[Frame]) -> list[Frame]:
        out: list[Frame] = []
        for frame in frames:
            try:
                out.append(self.process(frame))
            except StageError:
                raise
            except Exception as exc:  # name the very frame, not the batch it travelled in
                raise StageError(self.name, frame.index, exc) from exc
        return out

    def run(self, frames: Iterator[Frame]) -> Iterator[Frame]:
        for batch in batches(frames, self.context.batch_size):
            yield from self._guarded(batch)

    def _guarded(self, batch: list[Frame]) -> Iterable[Frame]:
        try:
            out = self.process_batch(batch)
        except StageError:
            raise
        except Exception as exc:  # the job must stop with the stage name and frame number
            where = f" (batch of frames {batch[0].index}–{batch[-1].index})" if len(batch) > 1 else ""
            raise StageError(self.name, batch[0].index, f"{exc}{where}") from exc
        if len(out) != len(batch):
            raise StageError(self.name, batch[0].index, f"returned {len(out)} frames for {len(batch)}")
        return out


class WindowStage(Stage):
    """Temporal stage: implement ``process_window(window, center)``.

    ``window`` holds 2·radius+1 frames; ``window[center]`` is the frame to produce.
    At the clip's ends the nearest real frame is repeated (clamping), so every input
    frame yields exactly one output frame.
    """

    def process_window(self, window: list[Frame], center: int) -> Frame:
        raise NotImplementedError

    def run(self, frames: Iterator[Frame]) -> Iterator[Frame]:
        for window in windows(frames, self.radius):
            current = window[self.radius]
            try:
                yield self.process_window(window, self.radius)
            except StageError:
                raise
            except Exception as exc:
                raise StageError(self.name, current.index, exc) from exc


def batches(frames: Iterable[Frame], size: int) -> Iterator[list[Frame]]:
    """Consecutive frames in lists of ``size`` (the last one shorter)."""
    batch: list[Frame] = []
    size = max(1, int(size))
    for frame in frames:
        batch.append(frame)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def windows(frames: Iterable[Frame], radius: int) -> Iterator[list[Frame]]:
    """For every frame, the 2·radius+1 frames around it (it sits at index ``radius``).

    Memory holds 2·radius+1 frames, whatever the clip's length. At the clip's ends the
    nearest real frame is repeated, so every input frame has exactly one window.
    """
    r = int(radius)
    past: collections.deque[Frame] = collections.deque(maxlen=r)
    ahead: collections.deque[Frame] = collections.deque()  # current frame + look-ahead

    def emit() -> list[Frame]:
        current = ahead[0]
        before = list(past) if r else []
        after = list(ahead)[1 : r + 1]
        before = [before[0] if before else current] * (r - len(before)) + before
        after = after + [after[-1] if after else current] * (r - len(after))
        return before + [current] + after

    for frame in frames:
        ahead.append(frame)
        if len(ahead) > r:
            yield emit()
            if r:
                past.append(ahead.popleft())
            else:
                ahead.popleft()
    while ahead:
        yield emit()
        if r:
            past.append(ahead.popleft())
        else:
            ahead.popleft()
