"""``restore adapt``: corpora checked first, the SR model adapted and measured, a pipeline that loads."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from restore.adapt import FEW_HELDOUT_CROPS, adapt, describe_gain, paired_gain
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
    venue = _corpus(tmp_path / "venue", "venue", [1, 2, 3, 4], heldout=[3, 4])   # two held-out shots: an interval
    # the replay pack has held-out crops of its own (as `make packs`' has): they are other places, not the venue
    general = _corpus(tmp_path / "general", "general", [10, 11, 12], heldout=[12])
    replay = export_crops([general], tmp_path / "replay", size=288, per_image=2, include_heldout=True)
    assert any(line.endswith("\theldout") for line in replay.read_text().splitlines())
    out = tmp_path / "chamber.yaml"
    said: list[str] = []
    result = adapt(venue, None, out, base="default", sr_iters=2, weights_dir=tmp_path / "w", replay=replay,
                   replay_corpora=[str(general)], min_gain_db=float("-inf"), echo=said.append)
    v = result.venue
    assert v["clips"] > 0 and v["used"]
    low, high = v["gain_ci95_db"]
    assert low <= v["gain_db"] <= high and 0.0 <= v["clips_better_than_generic"] <= 1.0
    # the mean gain is the difference of the two means (same clips), rounded once each
    assert abs(v["gain_db"] - (v["adapted_psnr_y"] - v["generic_psnr_y"])) <= 0.002
    # the clips one by one (for pooling venues): the same mean, one crop per clip
    assert len(v["per_clip"]["gain_db"]) == len(v["per_clip"]["crop"]) == v["clips"]
    assert abs(sum(v["per_clip"]["gain_db"]) / v["clips"] - v["gain_db"]) <= 0.001
    assert len(set(v["per_clip"]["crop"])) == v["independent_crops"]
    (weights,) = result.weights
    card = yaml.safe_load(weights.with_suffix(".card.json").read_text())
    assert card["validation"]["gain_over_generic"]["gain_ci95_db"] == [low, high]
    index = (tmp_path / ".chamber.yaml.adapt" / "venue-pack" / "index.tsv").read_text().splitlines()
    # measured on the venue's held-out crops alone (crops, not clips; no replay crop among them)
    assert v["independent_crops"] == sum(line.endswith("\theldout") for line in index) >= 1
    # one held-out picture: too few crops for a narrow interval, and the user is told so before the work
    assert v["independent_crops"] < FEW_HELDOUT_CROPS
    assert any(f"give {v['independent_crops']} crop(s) to measure on" in line for line in said[:3]), said
    assert not any(k.startswith("per_clip") for k in [*card["validation"], *card["validation"]["generic"]])
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


def test_the_gain_of_an_adaptation_is_paired_per_clip_with_an_interval():
    rng = np.random.default_rng(3)
    generic = list(30 + rng.normal(0, 2.0, 48))           # clips differ by far more than the models do
    steady = paired_gain([g + 0.1 + rng.normal(0, 0.02) for g in generic], generic)
    assert steady["gain_db"] == pytest.approx(0.1, abs=0.01)
    assert 0.09 < steady["gain_ci95_db"][0] < 0.1 < steady["gain_ci95_db"][1] < 0.11
    assert steady["clips_better_than_generic"] == 1.0
    # the same mean gain, won on a few clips and lost on most: its interval reaches below zero
    lucky = [g + (1.5 if i < 6 else -0.07) for i, g in enumerate(generic)]
    noisy = paired_gain(lucky, generic)
    assert noisy["gain_db"] == pytest.approx(1.5 * 6 / 48 - 0.07 * 42 / 48, abs=0.002)
    assert noisy["gain_ci95_db"][0] < 0 < noisy["gain_ci95_db"][1] and noisy["clips_better_than_generic"] == 0.125
    assert noisy["independent_crops"] == 48
    # eight clips of each of six crops: the crops, not the clips, are the witnesses
    crop_gain = rng.normal(0.1, 0.15, 6)
    groups = [i // 8 for i in range(48)]
    clustered = [g + crop_gain[k] + rng.normal(0, 0.01) for g, k in zip(generic, groups)]
    as_clips, as_crops = paired_gain(clustered, generic), paired_gain(clustered, generic, groups)
    assert as_crops["gain_db"] == as_clips["gain_db"] and as_crops["independent_crops"] == 6
    width = {name: r["gain_ci95_db"][1] - r["gain_ci95_db"][0] for name, r in (("clips", as_clips), ("crops", as_crops))}
    assert width["crops"] > 2 * width["clips"], width
    # each crop's own gain, in crop order: their mean over equal crops is the mean gain
    assert as_crops["per_crop_gain_db"] == pytest.approx(list(crop_gain), abs=0.01)
    assert np.mean(as_crops["per_crop_gain_db"]) == pytest.approx(as_crops["gain_db"], abs=0.002)
    # one crop: however many clips, no interval, so the adaptation cannot be taken for a gain
    single = paired_gain(clustered[:8], generic[:8], groups[:8])
    assert single["independent_crops"] == 1 and single["gain_ci95_db"] is None
    assert "no interval" in describe_gain(single) and "interval" in describe_gain(as_crops)
    with pytest.raises(ValueError):
        paired_gain([], [])
