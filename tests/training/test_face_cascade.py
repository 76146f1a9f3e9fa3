"""Face-stage training pairs made by the real SR model (restore.training.face_cascade); need ../shared."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from restore.errors import UserError
from restore.faces.align import template
from restore.faces.detect import FaceDetector
from restore.metrics import psnr_y
from restore.models.registry import load_model
from restore.training.face_cascade import CascadeSpec, build_cascade_pairs, pair_batch
from restore.training.face_train import train_face

REPO = Path(__file__).resolve().parents[2]
SUBJECT = REPO / ".." / "shared" / "corpora" / "faces" / "debruine_self"
SPEC = CascadeSpec(sr_weights="restore-vsr-x2-v5", sr_config=str(REPO / "pipelines/training/vsr-x2-v5.yaml"),
                   crop_size=128, draws=1, window=160, face_px=(60.0, 80.0), seed=3)


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    if not SUBJECT.is_dir():
        pytest.skip("../shared/corpora/faces is absent")
    cache = tmp_path_factory.mktemp("cache")
    return (*build_cascade_pairs(SUBJECT, SPEC, cache, log=lambda *_: None), cache)


def _f(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float32) / 255.0


def test_pairs_are_the_sr_output_and_the_truth_in_one_template(pairs):
    lq, hq, owners, _ = pairs
    assert lq.shape == hq.shape == (8, 128, 128, 3) and lq.dtype == np.uint8
    assert len({o.rel for o in owners}) == 8 and {o.license for o in owners} == {"CC-BY-4.0"}
    # the truth is in the template: YuNet finds its eyes where the template puts them
    detector = FaceDetector(score_threshold=0.5)
    errors = []
    for truth in hq:
        found = detector.detect(_f(truth))
        assert found, "no face in an aligned truth"
        errors.append(np.abs(found[0].landmarks[:2] - template(128)[:2]).max())
    assert np.median(errors) < 4.0
    # the input is a restoration of that truth, not the truth and not another face
    scores = [psnr_y(_f(a), _f(b)) for a, b in zip(lq, hq)]
    assert 20.0 < np.mean(scores) < 45.0 and min(scores) > 15.0
    swapped = [psnr_y(_f(a), _f(b)) for a, b in zip(lq, np.roll(hq, 1, axis=0))]
    assert np.mean(scores) > np.mean(swapped) + 3.0


def test_pairs_are_cached_and_reproducible(pairs):
    lq, hq, owners, cache = pairs
    assert len(list(cache.glob("face-cascade-*.npz"))) == 1
    again = build_cascade_pairs(SUBJECT, SPEC, cache, log=lambda *_: None)
    assert np.array_equal(again[0], lq) and np.array_equal(again[1], hq)
    fresh = build_cascade_pairs(SUBJECT, SPEC, None, log=lambda *_: None)   # made again, not read
    assert np.array_equal(fresh[0], lq) and np.array_equal(fresh[1], hq)


def test_pair_batch_cuts_the_same_window_of_both(pairs):
    lq, hq, _, _ = pairs
    x, y = pair_batch(lq, lq.copy(), np.random.default_rng(0), 6, 64)
    assert x.shape == y.shape == (6, 3, 64, 64) and np.array_equal(x, y)
    x, y = pair_batch(lq, hq, np.random.default_rng(0), 6, 64)
    assert not np.array_equal(x, y) and 0.0 <= x.min() and x.max() <= 1.0


@pytest.mark.slow
def test_a_cascade_run_records_the_sr_model_it_follows(pairs, tmp_path):
    cfg = yaml.safe_load((REPO / "pipelines" / "training" / "face-v3.yaml").read_text())
    assert cfg["cascade"]["sr_weights"] == "restore-vsr-x2-v5"
    cfg.update(output=str(tmp_path / "face.safetensors"), run_dir=str(tmp_path / "run"), cache_dir=None,
               crop_size=128, batch_size=2, patch_size=32, validate_every=0, checkpoint_every=1)
    cfg["cascade"].update(sr_config=SPEC.sr_config, draws=1, face_px=[60, 80], seeds=[2026, 2027])
    cfg["heldout"] = {"people_fraction": 0.0, "exclude_people": []}
    weights = train_face(cfg, max_iters=2, corpus=SUBJECT, log=lambda *_: None)
    card = load_model(weights).card
    sr = load_model("restore-vsr-x2-v5")
    # two seeds: each portrait filmed once per seed, the two sets pooled
    assert card["cascade"]["sr_sha256"] == sr.sha256 and card["cascade"]["pairs"] == 16
    assert card["cascade"]["seeds"] == [2026, 2027]
    assert card["crop_size"] == 128 and card["training"]["iterations"] == 2
    assert card["corpus"]["images"] == 8 and "after restore-vsr-x2-v5" in card["task"]
    assert json.loads(weights.with_suffix(".card.json").read_text())["weights_sha256"] == load_model(weights).sha256


@pytest.mark.slow
def test_a_cascade_model_is_fine_tuned_to_a_subject_on_the_same_kind_of_pairs(pairs, tmp_path):
    cfg = yaml.safe_load((REPO / "pipelines" / "training" / "face-v3.yaml").read_text())
    cfg.update(output=str(tmp_path / "face.safetensors"), run_dir=str(tmp_path / "run"), cache_dir=None,
               crop_size=128, batch_size=2, patch_size=32, validate_every=0, checkpoint_every=1)
    cfg["cascade"].update(sr_config=SPEC.sr_config, draws=1, face_px=[60, 80])
    cfg["heldout"] = {"people_fraction": 0.0, "exclude_people": []}
    base = train_face(cfg, max_iters=1, corpus=SUBJECT, log=lambda *_: None)
    cfg["finetune"] = {"iters": 2, "draws": 2, "output_dir": str(tmp_path / "ft")}
    cfg["batch_size"] = 2
    tuned = train_face(cfg, finetune=base, corpus=SUBJECT, log=lambda *_: None)
    card = load_model(tuned).card
    assert card["crop_size"] == 128 and card["cascade"]["subject_draws"] == 2
    assert len(card["corpus"]["heldout"]) == 3 and len(card["corpus"]["trained"]) == 5
    assert set(card["corpus"]["heldout"]).isdisjoint(card["corpus"]["trained"])
    assert card["validation"]["generic"]["faces"] == card["validation"]["finetuned"]["faces"] == 6
    assert card["base_weights"]["sha256"] == load_model(base).sha256


def test_a_seed_given_twice_is_refused_before_any_work(tmp_path):
    cfg = yaml.safe_load((REPO / "pipelines" / "training" / "face-v5.yaml").read_text())
    cfg["cascade"]["seeds"] = [2026, 2028, 2026]
    cfg.update(output=str(tmp_path / "face.safetensors"), run_dir=str(tmp_path / "run"), cache_dir=str(tmp_path))
    with pytest.raises(UserError, match="repeat a seed"):
        train_face(cfg, max_iters=1, corpus=tmp_path / "no-such-corpus", log=lambda *_: None)
    assert list(tmp_path.iterdir()) == []


def test_the_pack_key_does_not_depend_on_how_the_sr_config_path_is_spelled(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    relative = CascadeSpec(sr_weights="restore-vsr-x2-v5", sr_config="pipelines/training/vsr-x2-v5.yaml")
    absolute = CascadeSpec(sr_weights="restore-vsr-x2-v5", sr_config=str(REPO / "pipelines/training/vsr-x2-v5.yaml"))
    other = CascadeSpec(sr_weights="restore-vsr-x2-v5", sr_config="pipelines/training/vsr-x2-v4.yaml")
    assert relative.key([], "sha") == absolute.key([], "sha") != other.key([], "sha")
    assert relative.key([], "sha") != CascadeSpec(**{**vars(relative), "seed": 1}).key([], "sha")
