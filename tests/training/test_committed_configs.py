"""Every committed SR training config loads and validates; only the shipped ones write into weights/.

(The face config has its own trainer and is loaded by tests/training/test_face_train.py.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from restore.training.config import load_config

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted((REPO / "pipelines" / "training").glob("*.yaml"))
# The configs `make weights` runs: the only ones allowed to replace a shipped file.
SHIPPED = {"sr-x2.yaml", "sr-x2-venue.yaml", "face.yaml"}


def test_the_make_weights_configs_are_committed():
    assert SHIPPED <= {path.name for path in CONFIGS}
    makefile = (REPO / "Makefile").read_text()
    assert all(f"pipelines/training/{name}" in makefile for name in SHIPPED)


SR_CONFIGS = [path for path in CONFIGS if yaml.safe_load(path.read_text()).get("task", "sr") == "sr"]


def test_every_config_but_the_face_one_is_an_sr_config():
    assert {path.name for path in CONFIGS} - {path.name for path in SR_CONFIGS} == {"face.yaml"}


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
