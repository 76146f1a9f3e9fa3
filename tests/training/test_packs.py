"""The portrait packs: face crops of training-split portraits only, at their own resolution, that the video SR
trainer accepts beside the texture pack, in crops of different sizes."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from restore.errors import UserError
from restore.training.corpus import Corpus
from restore.training.packs import build_portrait_pack
from restore.training.vsr_train import CropPack, load_vsr_config, synthesise, synthesise_picks

REPO = Path(__file__).resolve().parents[2]


def _portrait(seed: int, width: int, height: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    picture = cv2.resize(rng.random((height // 8, width // 8, 3)).astype(np.float32), (width, height),
                         interpolation=cv2.INTER_CUBIC)
    return (picture.clip(0, 1) * 255).astype(np.uint8)


def test_portrait_pack_crops_training_people_at_their_own_resolution(tmp_path):
    corpus = Corpus.init(tmp_path / "faces")
    pictures = {}
    for i, (w, h, split) in enumerate([(384, 512, "train"), (512, 512, "heldout"), (225, 275, "train"),
                                       (400, 400, "train")]):
        path = tmp_path / f"person{i}.png"
        pictures[i] = _portrait(i, w, h)
        cv2.imwrite(str(path), pictures[i][:, :, ::-1])
        corpus.add([path], kind="subject", subject=f"person {i}", source="test fixture", license="CC0-1.0",
                   split=split)
    index = build_portrait_pack(tmp_path / "portraits", tmp_path / "faces", size=288)

    pack = CropPack.load(index, [str(tmp_path / "faces")])
    assert pack.train.shape == (2, 3, 288, 288)          # the held-out person and the small portrait are left out
    assert len(pack.heldout) == 0
    rows = [line.split("\t") for line in index.read_text().splitlines()[1:]]
    for row, i in zip(rows, (0, 3)):
        x0, y0, x1, y1 = map(int, row[5].split(","))
        crop = cv2.imread(str(index.parent / row[0]))[:, :, ::-1].astype(np.float32)
        original = pictures[i][y0:y1, x0:x1].astype(np.float32)
        assert x1 - x0 == 288 and abs(float(np.mean(crop - original))) < 1 and float(np.abs(crop - original).mean()) < 3
        assert (x0 + x1) // 2 == pictures[i].shape[1] // 2           # centred on the portrait's face column


def test_small_portrait_pack_takes_only_the_portraits_the_large_one_leaves_out(tmp_path):
    corpus = Corpus.init(tmp_path / "faces")
    for i, (w, h, split) in enumerate([(384, 512, "train"), (225, 275, "train"), (225, 275, "heldout"),
                                       (200, 260, "train")]):
        path = tmp_path / f"person{i}.png"
        cv2.imwrite(str(path), _portrait(i, w, h))
        corpus.add([path], kind="subject", subject=f"person {i}", source="test fixture", license="CC0-1.0",
                   split=split)
    large = build_portrait_pack(tmp_path / "portraits", tmp_path / "faces", size=288)
    small = build_portrait_pack(tmp_path / "portraits-224", tmp_path / "faces", size=224, smaller_than=288)
    sources = {p: [line.split("\t")[1] for line in p.read_text().splitlines()[1:]] for p in (large, small)}
    assert sources[large] == ["faces/person0.png"]
    assert sources[small] == ["faces/person1.png"]     # not the held-out person, not the one too small for 224

    pack = CropPack.load([large, small], [str(tmp_path / "faces")], [0.5, 0.5])
    assert [tuple(g.shape) for g in pack.groups] == [(1, 3, 288, 288), (1, 3, 224, 224)]
    assert pack.slots.tolist() == [[0, 0], [1, 0]]
    with pytest.raises(UserError, match="2 sizes"):
        pack.train
    with pytest.raises(UserError, match="heldout_packs"):
        CropPack.load([large, small], [str(tmp_path / "faces")], heldout_packs=[2])


def _flat(value: int, size: int, n: int) -> torch.Tensor:
    return torch.full((n, 3, size, size), value, dtype=torch.uint8)


def test_mixed_crop_sizes_are_synthesised_per_size_and_returned_in_the_order_drawn():
    config = load_vsr_config(REPO / "pipelines" / "training" / "vsr-x2.yaml")
    camera, broadcast = config.camera_ranges(), config.broadcast_ranges()
    groups = [_flat(40, 288, 3), _flat(210, 224, 2)]
    slots = torch.tensor([[0, 0], [0, 1], [0, 2], [1, 0], [1, 1]])
    picks = torch.tensor([3, 0, 4, 1, 1, 2, 3])
    lr, hr = synthesise_picks(groups, slots, picks, config, 5, torch.Generator().manual_seed(1), camera, broadcast)
    assert lr.shape[:2] == (len(picks), 5) and hr.shape == (len(picks), 3, 128, 128)
    expected = [210 if int(slots[p, 0]) == 1 else 40 for p in picks]
    means = (hr.mean(dim=(1, 2, 3)) * 255).tolist()
    assert all(abs(m - e) < 20 for m, e in zip(means, expected)), (means, expected)


def test_one_crop_size_is_synthesised_exactly_as_before():
    config = load_vsr_config(REPO / "pipelines" / "training" / "vsr-x2.yaml")
    camera, broadcast = config.camera_ranges(), config.broadcast_ranges()
    crops = torch.from_numpy(np.stack([_portrait(i, 288, 288) for i in range(4)])).permute(0, 3, 1, 2).contiguous()
    picks = torch.tensor([2, 0, 3, 3])
    slots = torch.tensor([[0, i] for i in range(4)])
    got = synthesise_picks([crops], slots, picks, config, 5, torch.Generator().manual_seed(7), camera, broadcast)
    want = synthesise(crops[picks], config, 5, torch.Generator().manual_seed(7), camera, broadcast)
    assert all(torch.equal(a, b) for a, b in zip(got, want))
