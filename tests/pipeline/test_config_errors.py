"""One validator for every file a user writes: pipelines, job files, training configs (sr, vsr, face).

Each mistake — an unknown key, a wrong type, a value out of range — is refused before any work
with exit code 2 and the same one line: ``file: section.key: what is wrong (expected …)``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from restore.cli import main
from restore.config import ConfigError, parse_size

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "samples" / "speech-pal-sample.mkv"


def _one_line_error(args: list[str]) -> str:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def _assert_error(line: str, file: str, key: str, problem: str) -> None:
    pattern = rf"restore: error: \S*{re.escape(file)}: {re.escape(key)}: {problem}"
    assert re.fullmatch(pattern, line), f"{line!r} does not match {pattern!r}"


UNKNOWN = r"unknown key \(expected one of: .+\)"


# --- pipelines -----------------------------------------------------------------------------------

@pytest.mark.parametrize("stage, key, problem", [
    ({"stage": "deflicker", "radiu": 5}, "stages[0].radiu", UNKNOWN),
    ({"stage": "deflicker", "radius": "five"}, "stages[0].radius", r"got 'five' \(expected an integer\)"),
    ({"stage": "deflicker", "radius": 0}, "stages[0].radius", r"0 is out of range \(expected 1\.\.25\)"),
])
def test_pipeline_mistakes(tmp_path, stage, key, problem):
    pipeline = tmp_path / "bad.yaml"
    pipeline.write_text(yaml.safe_dump({"stages": [stage]}))
    line = _one_line_error(["run", str(SAMPLE), "-o", str(tmp_path / "out.mkv"), "-p", str(pipeline)])
    _assert_error(line, "bad.yaml", key, problem)


# --- job files -----------------------------------------------------------------------------------

@pytest.mark.parametrize("options, key, problem", [
    ({"turbo": True}, "options.turbo", UNKNOWN),
    ({"batch_size": "many"}, "options.batch_size", r"got 'many' \(expected an integer\)"),
    ({"bit_depth": 4}, "options.bit_depth", r"4 is out of range \(expected 8\.\.16\)"),
    ({"size": "big"}, "options.size", r"got 'big' \(expected WIDTHxHEIGHT, e\.g\. 1440x1080\)"),
])
def test_job_file_mistakes(tmp_path, options, key, problem):
    (tmp_path / "in").mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "in" / "a.mkv").write_bytes(b"x")
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text(yaml.safe_dump({"inputs": ["in/a.mkv"], "output": {"folder": "out"},
                                    "pipeline": "passthrough", "options": options}))
    _assert_error(_one_line_error(["batch", str(jobs), "--check"]), "jobs.yaml", key, problem)


# --- training configs ----------------------------------------------------------------------------

SR = {"name": "x", "output": "x.safetensors", "work_dir": "run", "corpora": ["corpus"],
      "model": {"type": "SRVGGNetCompact", "upscale": 2}}
VSR = {"task": "vsr", "name": "x", "output": "x.safetensors", "work_dir": "run", "crops": "pack/index.tsv",
       "corpora": ["corpus"], "model": {"type": "WindowFusionSR", "upscale": 2}}
FACE = {"task": "face", "name": "x", "corpus": "portraits", "iters": 10, "lr": 1e-3}


@pytest.mark.parametrize("base, change, key, problem", [
    (SR, {"train": {"patch_sise": 32}}, "train.patch_sise", UNKNOWN),
    (SR, {"seed": "zero"}, "seed", r"got 'zero' \(expected an integer\)"),
    (SR, {"train": {"lr_min_ratio": 2}}, "train.lr_min_ratio", r"2 is out of range \(expected 0\.\.1\)"),
    (SR, {"corpora": [{"path": "c", "weight": 0}]}, "corpora[0].weight", r"0 is out of range \(expected > 0\)"),
    (VSR, {"camera": {"pan_maks": 3}}, "camera.pan_maks", UNKNOWN),
    (VSR, {"train": {"iters": "lots"}}, "train.iters", r"got 'lots' \(expected an integer\)"),
    (VSR, {"validation": {"clips": 0}}, "validation.clips", r"0 is out of range \(expected >= 1\)"),
    # the face trainer read raw dicts and ignored a mistyped key: these trained something else
    (FACE, {"los": {"l1": 1.0}}, "los", UNKNOWN),
    (FACE, {"loss": {"gradiant": 0.5}}, "loss.gradiant", UNKNOWN),
    (FACE, {"iters": "many"}, "iters", r"got 'many' \(expected an integer\)"),
    (FACE, {"synth": "cuda"}, "synth", r"got 'cuda' \(expected one of: 'numpy', 'torch'\)"),
    (FACE, {"heldout": {"people_fraction": 1.5}}, "heldout.people_fraction",
     r"1\.5 is out of range \(expected 0\.\.1\)"),
    (FACE, {"degradation": {"blur_sigma": 2}}, "degradation.blur_sigma",
     r"got 2 \(expected a list of 2 numbers\)"),
    (FACE, {"max_minutes": 30}, "max_minutes", r"no longer exists \(expected iters: .+\)"),
])
def test_training_config_mistakes(tmp_path, base, change, key, problem):
    config = tmp_path / "cfg.yaml"
    config.write_text(yaml.safe_dump({**base, **change}))
    _assert_error(_one_line_error(["train", str(config)]), "cfg.yaml", key, problem)


def test_face_config_given_as_a_mapping_is_checked_too():
    from restore.training.face_train import train_face

    with pytest.raises(ConfigError, match=r"^face training config: lr_mn: unknown key \(expected one of: "):
        train_face({**FACE, "lr_mn": 1e-5})


def test_every_committed_config_loads_through_the_validator():
    from restore.pipeline.spec import load_pipeline
    from restore.training.config import load_config, load_face_config, read_task
    from restore.training.vsr_train import load_vsr_config

    for path in sorted((REPO / "pipelines").glob("*.yaml")):
        load_pipeline(str(path))
    loaders = {"sr": load_config, "vsr": load_vsr_config, "face": load_face_config}
    for path in sorted((REPO / "pipelines" / "training").glob("*.yaml")):
        loaders[read_task(path)[0]](path)


# --- WxH, schemas --------------------------------------------------------------------------------

def test_one_size_parser():
    assert parse_size("1440x1080") == (1440, 1080) and parse_size("720X576") == (720, 576)
    for bad in ("1440", "x", "1x1080", "1440x1080x2", "-2x4", 1440, None):
        with pytest.raises(ValueError, match=r"expected WIDTHxHEIGHT"):
            parse_size(bad)


def test_committed_schemas_are_current(tmp_path):
    # A fresh process, as `make schema` runs it: stages that other tests register in this one
    # (test-crash-once, upscale-for-test) are not part of the project's schema.
    subprocess.run([sys.executable, "-m", "restore.cli", "schema", str(tmp_path)], check=True,
                   cwd=REPO, capture_output=True)
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == sorted(p.name for p in (REPO / "docs" / "schema").glob("*.json"))
    for name in written:
        committed = (REPO / "docs" / "schema" / name).read_text()
        assert committed == (tmp_path / name).read_text(), f"{name} is stale: run `make schema`"


def test_committed_configs_match_their_schemas():
    jsonschema = pytest.importorskip("jsonschema")
    from restore import safeyaml
    from restore.schema import schemas
    from restore.training.config import _read_yaml

    all_schemas = schemas()
    for schema in all_schemas.values():
        jsonschema.Draft202012Validator.check_schema(schema)
    for path in sorted((REPO / "pipelines").glob("*.yaml")):
        jsonschema.validate(safeyaml.load(path.read_text()) or {}, all_schemas["pipeline.schema.json"])
    for path in sorted((REPO / "pipelines" / "training").glob("*.yaml")):
        data = safeyaml.load(path.read_text())
        task = _read_yaml(path).get("task", "sr")       # with what `extends` supplies
        jsonschema.validate(data, all_schemas[f"training-{task}.schema.json"])
    bad = {"stages": [{"stage": "deflicker", "radius": 0}]}
    assert not jsonschema.Draft202012Validator(all_schemas["pipeline.schema.json"]).is_valid(bad)
    assert json.loads(json.dumps(all_schemas))   # plain JSON


def test_schema_command_writes_the_schemas(tmp_path):
    result = CliRunner().invoke(main, ["schema", str(tmp_path / "schema")])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (tmp_path / "schema").iterdir())
    assert names == sorted(["pipeline.schema.json", "jobfile.schema.json", "training-sr.schema.json",
                            "training-vsr.schema.json", "training-face.schema.json"])
    face = json.loads((tmp_path / "schema" / "training-face.schema.json").read_text())
    assert face["additionalProperties"] is False and "gradient" in face["properties"]["loss"]["properties"]
