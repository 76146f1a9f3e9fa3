"""Pipelines as data: every mistake is one line naming the file and the key."""

from __future__ import annotations

import pytest

from restore.errors import PipelineError
from restore.pipeline.spec import available_pipelines, load_pipeline, parse_pipeline


def _error(text: str) -> str:
    with pytest.raises(PipelineError) as info:
        parse_pipeline(text, source="p.yaml")
    message = str(info.value)
    assert "\n" not in message and message.startswith("p.yaml: ")
    return message


def test_shipped_pipelines_load():
    names = available_pipelines()
    assert {"passthrough", "default"} <= set(names)
    for name in names:
        spec = load_pipeline(name)
        assert spec.name == name


def test_unknown_top_level_key():
    assert "stagez: unknown key" in _error("stagez: []\n")


def test_unknown_stage_key_names_the_stage_and_key():
    message = _error("stages:\n  - stage: deflicker\n    radiu: 3\n")
    assert "stages[0].radiu: unknown key" in message and "radius" in message


def test_wrong_type_and_range():
    assert "stages[0].radius: got 'five' (expected an integer)" in _error("stages:\n  - stage: deflicker\n    radius: five\n")
    assert "stages[0].radius: 0 is out of range (expected 1..25)" in _error("stages:\n  - stage: deflicker\n    radius: 0\n")
    assert "stages[0].mode: got 'sideways' (expected one of: " in _error("stages:\n  - stage: deflicker\n    mode: sideways\n")


def test_unknown_stage():
    assert "stages[1].stage: unknown stage 'sharpen-everything'" in _error(
        "stages:\n  - deflicker\n  - stage: sharpen-everything\n")


def test_missing_weights_file_is_named():
    message = _error("stages:\n  - stage: superres\n    weights: /nonexistent/model.safetensors\n")
    assert "stages[0].weights:" in message and "/nonexistent/model.safetensors" in message


def test_invalid_yaml_reports_line():
    assert "line 3: not valid YAML" in _error("stages:\n  - stage: deflicker\n   bad: [indent\n")


def test_output_section_validated():
    assert "output.codec: got 'mpeg1' (expected one of: 'ffv1'" in _error("output:\n  codec: mpeg1\nstages: []\n")
    spec = parse_pipeline("output:\n  bit_depth: 10\nstages: []\n")
    assert spec.output.bit_depth == 10
