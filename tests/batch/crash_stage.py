"""A stage that kills its own process once (at a chosen frame): a worker dying mid-segment.

It lives in the tests package so that Ray workers can import it by name when they unpickle
the pipeline (the stage class travels by reference).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from restore.frame import Frame
from restore.pipeline.registry import register_stage
from restore.stages.base import FrameStage


@dataclass(frozen=True)
class CrashOnceParams:
    marker: str = ""
    frame: int = field(default=0, metadata={"min": 0, "max": 10**6})


@register_stage
class CrashOnce(FrameStage):
    name = "test-crash-once"
    Params = CrashOnceParams

    def process(self, frame: Frame) -> Frame:
        marker = Path(self.params.marker)
        if frame.index == self.params.frame and not marker.exists():
            marker.write_text(str(os.getpid()))
            os._exit(17)          # no cleanup, no exception: as if the node or process vanished
        return frame
