"""restore pipelines / restore stages, and the classical-only preset."""

from __future__ import annotations

import json

from restore.pipeline.catalogue import uses_trained_model
from restore.pipeline.spec import available_pipelines, load_pipeline
from tests.conftest import run_cli


def test_pipelines_lists_every_preset_with_its_description():
    res = run_cli("pipelines", "--json", check=True)
    rows = {r["pipeline"]: r for r in json.loads(res.stdout)}
    assert set(rows) == set(available_pipelines())
    assert rows["archival-safe"]["trained_models"] is False
    assert rows["default"]["trained_models"] is True
    assert all(r["description"] for r in rows.values())
    text = run_cli("pipelines", check=True).stdout
    assert "archival-safe  (classical only, no trained model)" in text


def test_stages_lists_parameters_with_types_ranges_and_defaults():
    rows = {r["stage"]: r for r in json.loads(run_cli("stages", "--json", check=True).stdout)}
    assert rows["superres"]["trained_model"] and rows["faces"]["trained_model"]
    assert not rows["deflicker"]["trained_model"]
    radius = next(p for p in rows["deflicker"]["parameters"] if p["name"] == "radius")
    assert radius == {"name": "radius", "type": "int", "default": 5, "range": "1..25"}
    text = run_cli("stages", "denoise", check=True).stdout
    assert "strength: float (default 1.0, range 0.1..4.0)" in text
    res = run_cli("stages", "nope")
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "unknown stage 'nope'" in res.stderr


def test_archival_safe_runs_no_trained_model():
    spec = load_pipeline("archival-safe")
    assert spec.stages and not any(uses_trained_model(s.cls) for s in spec.stages)
    assert {"superres", "faces"}.isdisjoint(s.name for s in spec.stages)
