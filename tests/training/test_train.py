"""The SR training loop on a tiny model: outputs, resume, refusals, fine-tuning."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
from sr_setup import make_corpus, write_config  # noqa: E402

from restore.cli import main  # noqa: E402
from restore.errors import OutputError, UserError  # noqa: E402
from restore.models.registry import load_model  # noqa: E402
from restore.training.config import load_config  # noqa: E402
from restore.training.train import train  # noqa: E402


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory) -> Path:
    return make_corpus(tmp_path_factory.mktemp("corpus"))


def _state(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(path))


@pytest.mark.slow
def test_trains_both_phases_and_writes_weights_and_card(tmp_path, corpus_dir):
    config = load_config(write_config(tmp_path, corpus_dir))
    result = train(config, progress=False)
    assert result.complete and result.iterations == 4
    card = json.loads(config.output.with_suffix(".card.json").read_text())
    assert card["training"]["iterations"] == 4 and card["scale"] == 2
    assert card["licence_counts"] == {"CC0-1.0": 4}
    assert card["corpora"][0]["train_images"] == 3 and card["corpora"][0]["heldout_images"] == 1
    assert card["validation"]["psnr_y"] > 5 and "bicubic" in card["validation"]
    assert card["energy"]["kwh"] > 0
    log = [json.loads(line) for line in (config.work_dir / "log.jsonl").read_text().splitlines()]
    phases = [r["phase"] for r in log if "phase" in r]
    assert phases == ["pretrain", "pretrain", "gan", "gan"]
    assert all("d" in r and "gan" in r for r in log if r.get("phase") == "gan")
    loaded = load_model(config.output)
    assert loaded.scale == 2 and loaded.sha256 == card["weights_sha256"]
    assert loaded.module(torch.rand(1, 3, 8, 10)).shape == (1, 3, 16, 20)
    # A checkpoint is a BasicSR checkpoint: importing it yields the exported (EMA) weights.
    from restore.models.import_checkpoint import import_checkpoint

    imported, _ = import_checkpoint(config.work_dir / "iter-0000004.pt", name="from-ckpt", dest_dir=tmp_path / "imp")
    exported = _state(config.output)
    assert all(torch.equal(exported[k], v) for k, v in _state(imported).items())


@pytest.mark.slow
def test_resume_continues_exactly(tmp_path, corpus_dir):
    straight = load_config(write_config(tmp_path / "a", corpus_dir))
    train(straight, progress=False)
    split = load_config(write_config(tmp_path / "b", corpus_dir))
    first = train(split, max_iters=3, progress=False)  # stops inside the GAN phase
    assert not first.complete and first.iterations == 3
    train(load_config(split.source), resume=True, progress=False)
    a, b = _state(straight.output), _state(split.output)
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-6)
    ckpt_a = torch.load(straight.work_dir / "iter-0000004.pt", weights_only=True)
    ckpt_b = torch.load(split.work_dir / "iter-0000004.pt", weights_only=True)
    for key in ckpt_a["discriminator"]:
        torch.testing.assert_close(ckpt_a["discriminator"][key], ckpt_b["discriminator"][key], rtol=0, atol=1e-6)


def test_refuses_to_overwrite_and_to_resume_another_config(tmp_path, corpus_dir):
    path = write_config(tmp_path, corpus_dir, train={"pretrain_iters": 1, "gan_iters": 0})
    train(load_config(path), progress=False)
    with pytest.raises(OutputError):
        train(load_config(path), progress=False)
    changed = write_config(tmp_path, corpus_dir, train={"pretrain_iters": 1, "gan_iters": 0, "lr": 2e-3})
    with pytest.raises(UserError, match="different training config"):
        train(load_config(changed), resume=True, progress=False)
    before = config_output = load_config(path).output
    digest = before.read_bytes()
    train(load_config(changed), force=True, progress=False)
    assert config_output.read_bytes() != digest


def test_config_errors_are_one_line(tmp_path, corpus_dir):
    bad = write_config(tmp_path, corpus_dir, train={"patch_sise": 32})
    result = CliRunner().invoke(main, ["train", str(bad)])
    assert result.exit_code == 2 and "tiny.yaml: train.patch_sise: unknown key (expected one of: patch_size," in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_refuses_a_corpus_that_fails_its_check(tmp_path, corpus_dir):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(corpus_dir, broken)
    manifest = broken / "MANIFEST.tsv"
    manifest.write_text(manifest.read_text().replace("CC0-1.0", "", 1))
    with pytest.raises(UserError, match="fails its check"):
        train(load_config(write_config(tmp_path, broken)), progress=False)


def test_cli_finetune_on_another_corpus(tmp_path, corpus_dir):
    base_cfg = load_config(write_config(tmp_path / "base", corpus_dir, train={"pretrain_iters": 2, "gan_iters": 0}))
    train(base_cfg, progress=False)
    other = make_corpus(tmp_path / "venue", train_images=2, heldout_images=1, side=136)
    tune = write_config(tmp_path / "tune", corpus_dir, name="tiny-tuned",
                        model={"num_feat": 4},  # ignored: the architecture comes from the weights
                        train={"pretrain_iters": 2, "gan_iters": 0, "lr": 1e-4})
    result = CliRunner().invoke(main, ["train", str(tune), "--finetune", str(base_cfg.output), "--corpus",
                                       str(other), "--quiet"])
    assert result.exit_code == 0, result.output
    card = json.loads((tmp_path / "tune" / "weights" / "tiny-sr.card.json").read_text())
    assert card["origin"] == "fine-tuned" and card["arch"]["num_feat"] == 8
    assert card["training"]["finetuned_from"]["sha256"] == json.loads(
        base_cfg.output.with_suffix(".card.json").read_text())["weights_sha256"]
    assert card["corpora"][0]["train_images"] == 2


def test_extends_merges_sections_and_refuses_cycles(tmp_path, corpus_dir):
    base = write_config(tmp_path, corpus_dir)
    child = tmp_path / "child.yaml"
    child.write_text(f"extends: {base.name}\nname: child\nlosses: {{structure: 0.0}}\ntrain: {{gan_iters: 5}}\n")
    config = load_config(child)
    assert config.name == "child" and config.losses.structure == 0.0 and config.losses.gan == 0.005
    assert config.train.gan_iters == 5 and config.train.pretrain_iters == 2
    loop = tmp_path / "loop.yaml"
    loop.write_text("extends: loop.yaml\n")
    with pytest.raises(UserError, match="without cycles"):
        load_config(loop)
