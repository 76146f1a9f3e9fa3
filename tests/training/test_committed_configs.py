"""Every committed training config loads and validates; only the shipped ones write into weights/.

(The face configs have their own trainer, loaded by tests/training/test_face_train.py.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from restore.training.config import _read_yaml, load_config
from restore.training.vsr_train import load_vsr_config

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted((REPO / "pipelines" / "training").glob("*.yaml"))
# The configs `make weights` (CPU) and `make weights-gpu` run: the only ones allowed to replace a shipped file.
SHIPPED_CPU = {"sr-x2.yaml", "sr-x2-venue.yaml", "face.yaml", "vsr-x2-v2.yaml", "vsr-x2-v3.yaml", "vsr-x2-v4.yaml", "vsr-x2-v5.yaml", "face-v3.yaml", "face-v4.yaml", "face-v5.yaml"}   # make weights
SHIPPED_GPU = {"vsr-x2.yaml"}
SHIPPED = SHIPPED_CPU | SHIPPED_GPU


def _task(path: Path) -> str:
    return str(_read_yaml(path).get("task", "sr"))


def test_the_make_weights_configs_are_committed():
    assert SHIPPED <= {path.name for path in CONFIGS}
    makefile = (REPO / "Makefile").read_text()
    assert all(f"pipelines/training/{name}" in makefile for name in SHIPPED_CPU)
    gpu_line = next(line for line in makefile.splitlines() if line.startswith("GPU_CONFIGS :="))
    assert {f"{name}.yaml" for name in gpu_line.split(":=")[1].split()} == SHIPPED_GPU


SR_CONFIGS = [path for path in CONFIGS if _task(path) == "sr"]
VSR_CONFIGS = [path for path in CONFIGS if _task(path) == "vsr"]
FACE_CONFIGS = [path for path in CONFIGS if _task(path) == "face"]


def test_every_config_has_a_known_task():
    assert set(CONFIGS) == set(SR_CONFIGS) | set(VSR_CONFIGS) | set(FACE_CONFIGS)
    assert {"face.yaml", "face-v2.yaml"} <= {p.name for p in FACE_CONFIGS} and VSR_CONFIGS


@pytest.mark.parametrize("path", VSR_CONFIGS, ids=lambda p: p.name)
def test_vsr_config_loads_and_writes_where_it_should(path):
    config = load_vsr_config(path)
    output = Path(config.output).resolve()
    if path.name in SHIPPED:
        assert output.parent == (REPO / "weights").resolve() and output.stem == config.name
    else:
        assert output.is_relative_to((REPO / "runs").resolve()), output


@pytest.mark.parametrize("path", FACE_CONFIGS, ids=lambda p: p.name)
def test_face_config_writes_where_it_should(path):
    raw = yaml.safe_load(path.read_text())
    output = (REPO / raw["output"]).resolve()
    if path.name in SHIPPED:
        assert output.parent == (REPO / "weights").resolve() and output.stem == raw["name"]
    else:
        assert output.is_relative_to((REPO / "runs").resolve()), output


@pytest.mark.parametrize("path", SR_CONFIGS, ids=lambda p: p.name)
def test_config_loads_and_writes_where_it_should(path):
    config = load_config(path)
    output = Path(config.output).resolve()
    assert output.suffix == ".safetensors"
    weights = (REPO / "weights").resolve()
    if path.name in SHIPPED:
        assert output.parent == weights and output.stem == config.name
    else:  # experiments and candidates go to runs/, never over a shipped file
        assert output.is_relative_to((REPO / "runs").resolve()), output
    assert config.threads == 2  # the thread count is part of the bits: see weights/README.md
