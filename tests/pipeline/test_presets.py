"""Every shipped preset loads and restores a tiny interlaced clip end to end, frame-accurately."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest

from restore.job import JobOptions, run_job
from restore.pipeline.spec import available_pipelines, load_pipeline
from tests.conftest import make_clip, probe_json


@pytest.fixture(scope="module")
def tiny_interlaced(tmp_path_factory):
    d = tmp_path_factory.mktemp("presets")
    return make_clip(d / "tiny.mkv", size="160x128", seconds=0.24, audio_tracks=1)  # 6 frames, TFF


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in available_pipelines() if n != "passthrough"])
def test_preset_runs_end_to_end(name, tiny_interlaced, tmp_path):
    spec = load_pipeline(name)
    out = tmp_path / f"{name}.mkv"
    result = run_job(tiny_interlaced, out, spec, JobOptions(provenance=False))
    ratio = 1
    for stage in spec.stages:
        if stage.name == "deinterlace" and stage.params.rate == "field":
            ratio = 2
    assert result.frames_in == 6 and result.frames_out == 6 * ratio
    v = next(s for s in probe_json(out)["streams"] if s["type"] == "video")
    assert v["frame_count"] == 6 * ratio
    assert Fraction(v["r_frame_rate"]) == 25 * ratio
    if any(s.name == "superres" for s in spec.stages):
        assert v["height"] >= 2 * 128 or (v["width"], v["height"]) == (1440, 1080)
    if any(s.name == "deinterlace" for s in spec.stages):
        assert v["field_order"] == "progressive"
    log = [json.loads(line) for line in open(str(out) + ".frames.jsonl")]
    assert len(log) == 6 * ratio and all("stage_seconds" in e["notes"] for e in log)
