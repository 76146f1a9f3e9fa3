"""Finding and starting the VapourSynth worker (a separate Python 3.12 environment).

VapourSynth's wheels need Python ≥ 3.12 while the project runs on 3.11 (torch comes
from this disk only for 3.11), so VapourSynth filters run in their own process:
``vs_worker.py`` under ``RESTORE_VS_PYTHON`` or ``<repo>/.venv-vs/bin/python``,
created by ``make install`` (mk/vapoursynth.mk). Without it, methods that need it
either fall back to an ffmpeg method (with a one-line notice) or refuse with a
one-line PipelineError.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

from restore import resources
from restore.errors import PipelineError
from restore.stages._filterpipe import PLANAR_FLOAT, FilterProcess

WORKER = Path(__file__).with_name("vs_worker.py")
REPO = resources.source_root() or Path.cwd()   # where make install puts .venv-vs (a checkout)
_ERROR_PREFIX = "restore-vs-error: frame "


def vs_python() -> Path:
    configured = os.environ.get("RESTORE_VS_PYTHON")
    return Path(configured) if configured else REPO / ".venv-vs" / "bin" / "python"


@functools.lru_cache(maxsize=None)
def _probe(python: str) -> str | None:
    """None when ``python`` can import vapoursynth with our plugins, else the reason."""
    if not Path(python).is_file():
        return f"{python} not found"
    check = "import vapoursynth as vs; [getattr(vs.core, n) for n in ('mv', 'znedi3', 'descratch')]"
    try:
        done = subprocess.run([python, "-c", check], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    return None if done.returncode == 0 else (done.stderr.strip().splitlines() or ["import failed"])[-1]


def vapoursynth_available() -> bool:
    return _probe(str(vs_python())) is None


_notified: set[str] = set()


def choose_method(stage: str, method: str, vs_methods: frozenset[str], fallback: str | None) -> str:
    """The method to run: ``method`` itself, or ``fallback`` when it needs VapourSynth and that is absent."""
    if method not in vs_methods or vapoursynth_available():
        return method
    if fallback is None or fallback in vs_methods:
        raise PipelineError(f"{stage}: {method} needs VapourSynth: run make install "
                            f"(or set RESTORE_VS_PYTHON to a Python 3.12 with vapoursynth)")
    key = f"{stage}:{method}:{fallback}"
    if key not in _notified:
        _notified.add(key)
        print(f"notice: {stage}: VapourSynth not installed, using {fallback} instead of {method}", file=sys.stderr)
    return fallback


def _parse_error(text: str) -> tuple[int | None, str]:
    for line in reversed(text.splitlines()):
        if line.startswith(_ERROR_PREFIX):
            number, _, message = line[len(_ERROR_PREFIX):].partition(": ")
            try:
                return int(number), message
            except ValueError:
                return None, message
    return None, ""


def vapoursynth_filter(job: dict, *, stage: str, width: int, height: int, fps: Fraction,
                       ratio: int = 1, threads: int = 0) -> FilterProcess:
    """A worker process running ``job`` ({op, method, ...}: see vs_worker.OPERATIONS)."""
    fps = Fraction(fps)
    argv = [str(vs_python()), str(WORKER), "--width", str(width), "--height", str(height),
            "--fps", f"{fps.numerator}/{fps.denominator}", "--job", json.dumps(job, sort_keys=True)]
    if threads:
        argv += ["--threads", str(threads)]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    return FilterProcess(argv, stage=stage, width=width, height=height, fps=fps, wire=PLANAR_FLOAT,
                         ratio=ratio, env=env, error_parser=_parse_error)


class ExternalMethodStage:
    """Mixin for stages whose ``params.method`` may run in VapourSynth or ffmpeg.

    Picks the method at construction (falling back when VapourSynth is absent),
    records which one ran, and streams frames through the process the stage builds
    for the first frame's size.
    """

    VS_METHODS: frozenset[str] = frozenset()

    def __init__(self, params, context):
        super().__init__(params, context)
        self.method = choose_method(self.name, params.method, self.VS_METHODS, params.fallback)

    def describe(self) -> dict:
        info = super().describe()
        info["method_used"] = self.method
        return info

    @property
    def uses_vapoursynth(self) -> bool:
        return self.method in self.VS_METHODS

    def input_fps(self) -> Fraction:
        fmt = self.context.input_format
        return fmt.fps if fmt is not None else Fraction(25)

    def run_through(self, frames, make_process):
        """Frames through ``make_process(width, height)`` (a FilterProcess), sized from the first frame."""
        frames = iter(frames)
        first = next(frames, None)
        if first is None:
            return
        yield from make_process(first.width, first.height).run(itertools.chain([first], frames))
