"""The portrait pack: face crops of training-split portraits only, at their own resolution, that the video SR
trainer accepts beside the texture pack."""

from __future__ import annotations

import cv2
import numpy as np

from restore.training.corpus import Corpus
from restore.training.packs import build_portrait_pack
from restore.training.vsr_train import CropPack


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
