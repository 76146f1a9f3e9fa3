"""``restore adapt``: corpora checked first, the SR model adapted and measured, a pipeline that loads."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from restore.adapt import adapt
from restore.errors import UserError
from restore.pipeline.spec import load_pipeline
from restore.training.corpus import Corpus
from restore.training.crops import export_crops

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def _photo(path: Path, seed: int, size: int = 640) -> Path:
    rng = np.random.default_rng(seed)
    coarse = rng.random((size // 16, size // 16, 3)).astype(np.float32)
    image = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
    image += 0.15 * rng.random((size, size, 3)).astype(np.float32)            # texture for the crop picker
    cv2.imwrite(str(path), (image.clip(0, 1) * 255).astype(np.uint8))
    return path


def _corpus(folder: Path, kind: str, seeds: list[int], heldout: list[int]) -> Path:
    corpus = Corpus.init(folder)
    for seed in seeds:
        corpus.add([_photo(folder / f"p{seed}.png", seed)], kind=kind, source="test fixture", license="CC0-1.0",
                   split="heldout" if seed in heldout else "train")
    return folder


@pytest.mark.slow
def test_venue_adaptation_writes_weights_with_cards_and_a_pipeline(tmp_path):
    venue = _corpus(tmp_path / "venue", "venue", [1, 2, 3], heldout=[3])
    general = _corpus(tmp_path / "general", "general", [10, 11], heldout=[])
    replay = export_crops([general], tmp_path / "replay", size=288, per_image=2)
    out = tmp_path / "chamber.yaml"
    result = adapt(venue, None, out, base="default", sr_iters=2, weights_dir=tmp_path / "w", replay=replay,
                   replay_corpora=[str(general)], min_gain_db=float("-inf"), echo=lambda line: None)
    assert result.venue["clips"] > 0 and "gain_db" in result.venue and result.venue["used"]
    (weights,) = result.weights
    card = yaml.safe_load(weights.with_suffix(".card.json").read_text())
    assert card["origin"] == "fine-tuned" and card["training"]["finetuned_from"]["name"] == "restore-vsr-x2-v5"
    assert {c["name"] for c in card["corpora"]} == {"venue", "general"}
    spec = load_pipeline(str(out))
    sr = [s for s in spec.stages if s.name == "superres"][0]
    assert Path(sr.params.weights) == weights
    assert "Adapted by `restore adapt`" in yaml.safe_load(out.read_text())["description"]

    # an adaptation that does not beat the generic model on the held-out shots is written, not used
    kept = adapt(venue, None, tmp_path / "kept.yaml", base="default", sr_iters=1, weights_dir=tmp_path / "w2",
                 replay=replay, replay_corpora=[str(general)], min_gain_db=float("inf"), echo=lambda line: None)
    assert not kept.venue["used"] and kept.weights[0].is_file()
    sr = [s for s in load_pipeline(str(tmp_path / "kept.yaml")).stages if s.name == "superres"][0]
    assert sr.params.weights == "restore-vsr-x2-v5"
    assert "so the generic model is kept" in yaml.safe_load((tmp_path / "kept.yaml").read_text())["description"]


def test_a_venue_without_licence_is_refused_before_any_work(tmp_path):
    venue = _corpus(tmp_path / "venue", "venue", [1], heldout=[])
    lines = (venue / "MANIFEST.tsv").read_text().splitlines()
    lines[-1] = lines[-1].replace("CC0-1.0", "")
    (venue / "MANIFEST.tsv").write_text("\n".join(lines) + "\n")
    with pytest.raises(UserError):
        adapt(venue, None, tmp_path / "x.yaml", sr_iters=1, weights_dir=tmp_path / "w", echo=lambda line: None)
    assert not (tmp_path / "x.yaml").exists() and not (tmp_path / "w").exists()


def test_nothing_to_adapt_is_one_line(tmp_path):
    with pytest.raises(UserError, match="--venue DIR, --subject DIR or both"):
        adapt(None, None, tmp_path / "x.yaml")


@pytest.mark.slow
@pytest.mark.shared
@pytest.mark.skipif(not (SHARED / "corpora" / "faces" / "debruine_self").is_dir(), reason="needs ../shared")
def test_subject_adaptation_fine_tunes_the_presets_face_model_and_gates_on_the_portraits(tmp_path):
    subject = SHARED / "corpora" / "faces" / "debruine_self"
    out = tmp_path / "speaker.yaml"
    result = adapt(None, subject, out, base="default", face_iters=2, weights_dir=tmp_path / "w",
                   echo=lambda line: None)
    (weights,) = result.weights
    card = yaml.safe_load(weights.with_suffix(".card.json").read_text())
    # the presets' face model follows their SR model: the subject is learnt on that model's output
    assert card["cascade"]["sr_weights"] == "restore-vsr-x2-v5" and card["crop_size"] == 256
    assert card["base_weights"]["file"] == "restore-face-v5.safetensors"
    assert len(card["corpus"]["heldout"]) == 3 and result.subject["portraits"] == 3 * card["cascade"]["subject_draws"]
    faces = [s for s in load_pipeline(str(out)).stages if s.name == "faces"]
    assert len(faces) == 1 and Path(faces[0].params.weights) == weights
    assert Path(faces[0].params.reference) == subject.resolve() and faces[0].params.fidelity == 0.0
