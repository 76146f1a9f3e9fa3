"""Training the multi-frame model (task: vsr): licensed data only, exact resume, a complete card."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from restore.errors import UserError
from restore.models.registry import load_model
from restore.training.corpus import Corpus
from restore.training.vsr_train import CropPack, load_vsr_config, train_vsr


def _image(seed: int, size: int = 96) -> np.ndarray:
    rng = np.random.default_rng(seed)
    coarse = rng.random((size // 6, size // 6, 3)).astype(np.float32)
    return (cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC).clip(0, 1) * 255).astype(np.uint8)


@pytest.fixture()
def corpus_and_pack(tmp_path) -> tuple[Path, Path]:
    corpus_dir = tmp_path / "corpus"
    corpus = Corpus.init(corpus_dir)
    pack = tmp_path / "pack"
    (pack / "crops").mkdir(parents=True)
    rows = []
    for i in range(4):
        src = tmp_path / f"photo{i}.png"
        cv2.imwrite(str(src), _image(i, 200))
        entry = corpus.add([src], kind="general", source="test fixture", license="CC0-1.0",
                           split="heldout" if i == 3 else "train")[0]
        crop = f"crops/{i:03d}.png"
        cv2.imwrite(str(pack / crop), _image(i, 200)[:96, :96])
        rows.append(f"{crop}\t{entry.rel}\t{entry.sha256}\tCC0-1.0\t0,0,96,96")
    (pack / "index.tsv").write_text("crop\tsource\tsha256\tlicense\tbox\n" + "\n".join(rows) + "\n")
    return corpus_dir, pack / "index.tsv"


def _config(tmp_path: Path, corpus_dir: Path, index: Path, iters: int = 6) -> Path:
    path = tmp_path / "vsr.yaml"
    path.write_text(f"""task: vsr
name: vsr-test
output: out/vsr-test.safetensors
work_dir: work
crops: {index}
corpora: [{corpus_dir}]
seed: 3
threads: 1
model: {{type: WindowFusionSR, radius: 1, num_feat: 8, num_pairs: 1, upscale: 2}}
train: {{patch_size: 32, batch_size: 2, iters: {iters}, lr: 1.0e-3, warmup: 2}}
losses: {{l1: 1.0, structure: 0.25, ssim: 0.1}}
validation: {{every: 3, clips: 2}}
checkpoint_every: 3
log_every: 3
""")
    return path


def test_resume_continues_bit_for_bit(tmp_path, corpus_and_pack):
    corpus_dir, index = corpus_and_pack
    whole = load_vsr_config(_config(tmp_path, corpus_dir, index))
    card = train_vsr(whole, force=True)
    reference = {k: v.clone() for k, v in load_model(whole.output).module.state_dict().items()}
    assert card["radius"] == 1 and card["frames"] == 3 and card["training"]["iterations"] == 6
    assert card["licence_counts"] == {"CC0-1.0": 4}
    assert card["validation"]["clips"] == 2 and "gain_db" in card["validation"]
    assert 0 < card["validation"]["ssim_y"] <= 1 and 0 < card["validation"]["bicubic_ssim_y"] <= 1

    halves = load_vsr_config(_config(tmp_path, corpus_dir, index))
    train_vsr(halves, force=True, max_iters=3)
    train_vsr(halves, resume=True)
    resumed = load_model(halves.output).module.state_dict()
    assert all(torch.equal(reference[k], resumed[k]) for k in reference)


def test_crops_from_an_unlisted_image_are_refused(tmp_path, corpus_and_pack):
    corpus_dir, index = corpus_and_pack
    lines = index.read_text().splitlines()
    cells = lines[2].split("\t")
    cells[2] = "0" * 64                      # a crop whose source no manifest lists with a licence
    lines[2] = "\t".join(cells)
    index.write_text("\n".join(lines) + "\n")
    with pytest.raises(UserError, match="no corpus of the config lists with a licence"):
        CropPack.load(index, [str(corpus_dir)])


def test_config_mistakes_are_one_line_errors(tmp_path, corpus_and_pack):
    corpus_dir, index = corpus_and_pack
    path = _config(tmp_path, corpus_dir, index)
    path.write_text(path.read_text().replace("warmup: 2", "warmpu: 2"))
    with pytest.raises(UserError, match="unknown key"):
        load_vsr_config(path)
    path = _config(tmp_path, corpus_dir, index)
    path.write_text(path.read_text() + "camera: {pan_maks: 3}\n")
    with pytest.raises(UserError, match=r"camera\.pan_maks: unknown key \(expected one of: static_prob"):
        load_vsr_config(path)


def test_committed_config_loads():
    config = load_vsr_config(Path(__file__).resolve().parents[2] / "pipelines" / "training" / "vsr-x2.yaml")
    assert config.model["type"] == "WindowFusionSR" and config.scale == 2
    assert json.dumps(config.as_dict())  # serialisable for the card
