"""What `make weights` relies on to rebuild the shipped weights bit for bit."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from sr_setup import make_corpus, write_config  # noqa: E402

from restore.errors import UserError  # noqa: E402
from restore.training.config import load_config  # noqa: E402
from restore.training.train import train  # noqa: E402

SAVE = """
import sys, torch
from restore.models.loading import save_safetensors
g = torch.Generator().manual_seed(0)
state = {f"layer{i}.weight": torch.randn(3, 4, generator=g) for i in range(5)}
meta = {k: k.upper() for k in ("name", "arch", "scale", "licence", "stored_dtype", "origin")}
print(save_safetensors(state, sys.argv[1], metadata=meta))
"""


def test_safetensors_files_are_byte_identical_across_processes(tmp_path):
    # The library's metadata order changes from process to process (a Rust HashMap): with six
    # keys, three unsorted writes agree by chance far less than once in a hundred.
    digests = {subprocess.run([sys.executable, "-c", SAVE, str(tmp_path / f"w{i}.safetensors")], check=True,
                              capture_output=True, text=True).stdout.strip() for i in range(3)}
    assert len(digests) == 1
    blob = (tmp_path / "w0.safetensors").read_bytes()
    header = json.loads(blob[8:8 + int.from_bytes(blob[:8], "little")])
    assert list(header["__metadata__"]) == sorted(header["__metadata__"])
    from safetensors.torch import load_file

    assert torch.equal(load_file(str(tmp_path / "w0.safetensors"))["layer3.weight"],
                       load_file(str(tmp_path / "w2.safetensors"))["layer3.weight"])


def test_a_rebuild_says_it_reproduced_the_weights(tmp_path):
    corpus = make_corpus(tmp_path / "c")
    path = write_config(tmp_path, corpus, train={"pretrain_iters": 2, "gan_iters": 1}, threads=1)
    first = train(load_config(path), progress=False)
    said: list[str] = []
    second = train(load_config(path), force=True, progress=False, echo=said.append)
    assert second.card["weights_sha256"] == first.card["weights_sha256"]
    assert second.card["training"]["replaced_weights_sha256"] == first.card["weights_sha256"]
    assert any("reproduced the previous weights bit for bit" in line for line in said)
    facts = second.card["training"]["determinism"]
    assert facts["threads"] == 1 and set(facts["cpu_pins"]) == {"ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_CBWR"}
    # A different run replaces them: the trainer says so rather than staying silent.
    changed = write_config(tmp_path, corpus, train={"pretrain_iters": 2, "gan_iters": 1, "lr": 5e-3}, threads=1)
    said.clear()
    train(load_config(changed), force=True, progress=False, echo=said.append)
    assert any("weights differ from the ones replaced" in line for line in said)


def test_config_identity_does_not_depend_on_the_checkout(tmp_path):
    configs = []
    for clone in ("clone-a", "clone-b/deeper"):
        root = tmp_path / clone
        path = write_config(root, make_corpus(root))
        raw = yaml.safe_load(path.read_text())
        raw.update(output="weights/tiny.safetensors", work_dir="run", corpora=[{"path": "corpus", "kind": "general"}])
        path.write_text(yaml.safe_dump(raw))
        configs.append(load_config(path))
    a, b = configs
    assert a.as_dict()["corpora"][0]["path"] == "corpus" and a.as_dict()["output"] == "weights/tiny.safetensors"
    assert a.sha256() == b.sha256()
    assert "/" + tmp_path.name not in json.dumps(a.as_dict())


def _tiny_face_run(tmp_path: Path, crops: np.ndarray, stop_at: int | None, resume: bool) -> dict[str, torch.Tensor]:
    from restore.models.face_arch import build_face_model
    from restore.training.face_train import FaceSchedule, FaceTrainer, run_schedule

    config = yaml.safe_load((Path(__file__).parents[2] / "pipelines" / "training" / "face.yaml").read_text())
    torch.manual_seed(0)
    model = build_face_model({"channels": [4, 8, 8, 8], "blocks": [0, 1, 0, 0]})
    schedule = FaceSchedule(iters=4, lr=1e-3, lr_min=1e-5, batch_size=2, patch_size=32, seed=5, checkpoint_every=1,
                            loss=config["loss"], degradation=config["degradation"])
    state = tmp_path / "checkpoint.pt"
    if resume:  # the model is rebuilt from scratch, as a new process would
        torch.manual_seed(123)
        model = build_face_model({"channels": [4, 8, 8, 8], "blocks": [0, 1, 0, 0]})
    summary = run_schedule(FaceTrainer(model, crops, schedule, "cpu"), state, resume, lambda *_: None, stop_at=stop_at)
    assert summary["schedule_iterations"] == 4
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_face_schedule_is_counted_in_iterations_and_resumes_exactly(tmp_path):
    crops = np.random.default_rng(1).random((6, 128, 128, 3), dtype=np.float32)
    straight = _tiny_face_run(tmp_path / "a", crops, None, False)
    _tiny_face_run(tmp_path / "b", crops, 2, False)
    resumed = _tiny_face_run(tmp_path / "b", crops, None, True)
    assert straight.keys() == resumed.keys()
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)


def test_time_budgets_are_refused_in_face_configs(tmp_path):
    from restore.training.face_train import train_face

    config = yaml.safe_load((Path(__file__).parents[2] / "pipelines" / "training" / "face.yaml").read_text())
    config["max_minutes"] = 30
    with pytest.raises(UserError, match="iterations only"):
        train_face(config)


def test_shipped_weights_match_their_cards():
    weights = Path(__file__).parents[2] / "weights"
    for card_file in sorted(weights.glob("*.card.json")):
        card = json.loads(card_file.read_text())
        blob = (weights / card["weights_file"]).read_bytes()
        assert hashlib.sha256(blob).hexdigest() == card["weights_sha256"], card_file.name
        header = json.loads(blob[8:8 + int.from_bytes(blob[:8], "little")])
        assert list(header.get("__metadata__", {})) == sorted(header.get("__metadata__", {})), card_file.name


def test_degradation_match_is_relative_to_the_config(tmp_path, monkeypatch):
    root = tmp_path / "configs"
    path = write_config(root, make_corpus(tmp_path), degradation={"preset": "pal-broadcast", "match": "../clip.mkv"})
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")   # the working directory must not matter
    config = load_config(path)
    assert config.degradation["match"] == str((tmp_path / "clip.mkv").resolve())
    assert config.as_dict()["degradation"]["match"] == "../clip.mkv"
