"""Fixtures for batch tests: tiny flickering clips (so deflicker really changes frames) and job files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from restore.pipeline.spec import parse_pipeline
from tests.conftest import make_clip

# deflicker reads ±2 neighbours: segment borders show unless the overlap is right
PIPELINE_YAML = "name: deflicker-test\nstages:\n  - stage: deflicker\n    radius: 2\n"


def flicker_clip(path: Path, seconds: float = 0.96, size: str = "160x120") -> Path:
    return make_clip(path, size=size, seconds=seconds, field="prog", pix_fmt="yuv420p", audio_tracks=1,
                     extra_vf="eq=eval=frame:brightness=0.12*sin(n*1.7)")


@pytest.fixture(scope="session")
def clip_dir(tmp_path_factory) -> Path:
    """Two clips of 24 and 14 frames, made once for the whole session (copy them before use)."""
    folder = tmp_path_factory.mktemp("clips")
    flicker_clip(folder / "reel-a.mkv")
    flicker_clip(folder / "reel-b.mkv", seconds=0.56)
    return folder


@pytest.fixture
def deflicker_spec():
    return parse_pipeline(PIPELINE_YAML, source="<test>")


@pytest.fixture(scope="session")
def reference_outputs(clip_dir, tmp_path_factory) -> dict[str, Path]:
    """Whole-file (unsegmented) restorations of the session clips: what every segmented run must equal."""
    from restore.job import JobOptions, run_job

    out = tmp_path_factory.mktemp("reference")
    spec = parse_pipeline(PIPELINE_YAML, source="<test>")
    refs = {}
    for clip in sorted(clip_dir.glob("*.mkv")):
        refs[clip.stem] = run_job(clip, out / f"{clip.stem}.restored.mkv", spec,
                                  JobOptions(provenance=False, sign=False)).output
    return refs


def write_batch(root: Path, clip_dir: Path, *, options: str = "{segment_frames: 5, sign: false}",
                extra_inputs: tuple[Path, ...] = (), out: Path | None = None) -> Path:
    """A job file under ROOT: the session clips (copied) plus EXTRA_INPUTS, outputs into ROOT/out (or OUT)."""
    (root / "in").mkdir(parents=True, exist_ok=True)
    for clip in clip_dir.glob("*.mkv"):
        shutil.copy2(clip, root / "in" / clip.name)
    for extra in extra_inputs:
        shutil.copy2(extra, root / "in" / extra.name)
    out = out or root / "out"
    out.mkdir(exist_ok=True)
    (root / "pipe.yaml").write_text(PIPELINE_YAML)
    roots = f"roots: {{output: {out}}}\n" if not str(out).startswith(str(root)) else ""
    job = root / "jobs.yaml"
    job.write_text(f"version: 1\n{roots}inputs: [in/*.mkv]\noutput: {{folder: {out}, name: \"{{stem}}.restored.mkv\"}}\n"
                   f"pipeline: pipe.yaml\noptions: {options}\n")
    return job
