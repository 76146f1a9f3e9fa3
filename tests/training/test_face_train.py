"""Face trainer: a two-iteration run and a subject fine-tune on real portraits (need ../shared)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from restore.errors import UserError
from restore.models.registry import load_model
from restore.training.face_train import train_face

REPO = Path(__file__).resolve().parents[2]
SUBJECT = REPO / ".." / "shared" / "corpora" / "faces" / "debruine_self"


@pytest.fixture()
def config(tmp_path) -> dict:
    if not SUBJECT.is_dir():
        pytest.skip("../shared/corpora/faces is absent")
    cfg = yaml.safe_load((REPO / "pipelines" / "training" / "face.yaml").read_text())
    assert cfg["task"] == "face"
    cfg.update(output=str(tmp_path / "face.safetensors"), run_dir=str(tmp_path / "run"), cache_dir=None,
               batch_size=2, patch_size=32, validate_every=0, checkpoint_every=1)
    cfg["heldout"] = {"people_fraction": 0.0, "exclude_people": [], "pairs_per_face": 1}
    cfg["finetune"].update(output_dir=str(tmp_path / "ft"), pairs_per_face=1)
    return cfg


@pytest.mark.slow
def test_train_then_finetune_on_a_subject(config, tmp_path):
    weights = train_face(config, max_iters=2, corpus=SUBJECT, log=lambda *_: None)
    assert weights == tmp_path / "face.safetensors"
    loaded = load_model(weights)
    assert loaded.arch["type"] == "FaceUNetS" and loaded.card["training"]["iterations"] == 2
    assert loaded.card["corpus"]["licences"] == {"CC-BY-4.0": 8}
    assert (tmp_path / "run" / "checkpoint.pt").is_file()
    with pytest.raises(UserError, match="exists"):
        train_face(config, max_iters=1, corpus=SUBJECT)

    tuned = train_face(config, max_iters=2, finetune=weights, corpus=SUBJECT, log=lambda *_: None)
    card = json.loads(tuned.with_suffix(".card.json").read_text())
    assert set(card["corpus"]["trained"]).isdisjoint(card["corpus"]["heldout"])
    assert len(card["corpus"]["heldout"]) == 3 and len(card["corpus"]["trained"]) == 5
    assert card["validation"]["generic"]["faces"] == 3
    assert {"psnr_output", "identity_output"} <= set(card["validation"]["finetuned"])
    assert load_model(tuned).card["base_weights"]["sha256"] == loaded.sha256


def test_finetune_needs_a_corpus(config, tmp_path):
    with pytest.raises(UserError, match="--corpus"):
        train_face(config, finetune=tmp_path / "x.safetensors")


def test_corpus_without_manifest_is_refused(config, tmp_path):
    (tmp_path / "portraits").mkdir()
    with pytest.raises(UserError, match="MANIFEST"):
        train_face(config, corpus=tmp_path / "portraits")
