"""Architecture inference, safe loading, cards, the registry, and `restore weights import`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from restore.cli import main
from restore.errors import PipelineError
from restore.models.archs import build_arch, count_macs, infer_arch
from restore.models.import_checkpoint import import_checkpoint
from restore.models.loading import read_state_dict
from restore.models.registry import list_weights, load_model, resolve_weights

SHARED_WEIGHTS = Path(__file__).resolve().parents[2] / ".." / "shared" / "weights"
SRVGG = {"type": "SRVGGNetCompact", "num_in_ch": 3, "num_out_ch": 3, "num_feat": 8, "num_conv": 3,
         "upscale": 2, "act_type": "prelu"}
RRDB = {"type": "RRDBNet", "num_in_ch": 3, "num_out_ch": 3, "scale": 2, "num_feat": 8, "num_block": 2,
        "num_grow_ch": 4}


@pytest.fixture
def user_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("RESTORE_WEIGHTS_DIR", str(tmp_path / "user"))
    return tmp_path / "user"


@pytest.mark.parametrize("spec", [SRVGG, RRDB, {**RRDB, "scale": 4}, {**SRVGG, "upscale": 4, "num_conv": 5}])
def test_infer_arch_recovers_the_constructor_arguments(spec):
    assert infer_arch(build_arch(spec).state_dict()) == spec


def test_macs_match_a_hand_count():
    net = build_arch(SRVGG)
    per_pixel = 3 * 8 * 9 + 3 * (8 * 8 * 9) + 8 * 12 * 9
    assert count_macs(net, 576, 720) == per_pixel * 576 * 720


def test_import_writes_safetensors_and_card_and_refuses_pickled_code(tmp_path, user_dir):
    torch.manual_seed(0)
    net = build_arch(SRVGG)
    ckpt = tmp_path / "net_g_1000.pth"
    torch.save({"params": {k: v + 1 for k, v in net.state_dict().items()}, "params_ema": net.state_dict()}, ckpt)
    result = CliRunner().invoke(main, ["weights", "import", str(ckpt), "--name", "tiny", "--licence", "MIT"])
    assert result.exit_code == 0, result.output
    loaded = load_model("tiny")
    card = json.loads((user_dir / "tiny.card.json").read_text())
    assert card["source"]["state_key"] == "params_ema" and card["licence"] == "MIT"
    for key, value in net.state_dict().items():  # params_ema, not params, was imported
        assert torch.equal(loaded.module.state_dict()[key], value)
    assert [e["name"] for e in list_weights() if e["location"] == str(user_dir)] == ["tiny"]
    again = CliRunner().invoke(main, ["weights", "import", str(ckpt), "--name", "tiny"])
    assert again.exit_code == 2 and "exists" in again.output

    class Exploit:
        def __reduce__(self):
            return (print, ("pwned",))

    evil = tmp_path / "evil.pth"
    torch.save({"params": net.state_dict(), "extra": Exploit()}, evil)
    with pytest.raises(PipelineError, match="weights_only"):
        read_state_dict(evil)


def test_card_mismatch_and_unknown_names_are_pipeline_errors(tmp_path, user_dir):
    target, _ = import_checkpoint(_saved(tmp_path, build_arch(SRVGG)), name="tiny")
    with pytest.raises(PipelineError, match="unknown weights 'nope'"):
        resolve_weights("nope")
    target.write_bytes(target.read_bytes()[:-4] + b"\0\0\0\0")
    with pytest.raises(PipelineError, match="does not match its model card"):
        load_model("tiny")
    result = CliRunner().invoke(main, ["weights", "show", "tiny"])
    assert "DOES NOT MATCH" in result.output


def _saved(tmp_path: Path, net) -> Path:
    path = tmp_path / "bare.pth"
    torch.save(net.state_dict(), path)
    return path


@pytest.mark.shared
@pytest.mark.parametrize("file, feat, conv", [("realesr-general-x4v3.fp16-ncnn-conversion.pth", 64, 32),
                                              ("realesr-animevideov3.pth", 64, 16)])
def test_imports_the_real_esrgan_checkpoints(file, feat, conv, user_dir):
    source = SHARED_WEIGHTS / file
    if not source.is_file():
        pytest.skip("../shared/weights is absent")
    target, card = import_checkpoint(source)
    assert card["arch"] == {"type": "SRVGGNetCompact", "num_in_ch": 3, "num_out_ch": 3, "num_feat": feat,
                            "num_conv": conv, "upscale": 4, "act_type": "prelu"}
    loaded = load_model(target.stem)
    assert loaded.scale == 4 and loaded.card_sha256
    out = loaded.module(torch.rand(1, 3, 12, 16))
    assert out.shape == (1, 3, 48, 64) and torch.isfinite(out).all()
