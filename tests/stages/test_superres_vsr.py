"""Multi-frame super-resolution in the superres stage: neighbours used, reach declared, resume exact."""

from __future__ import annotations

import shutil
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

from restore.frame import Frame, VideoFormat
from restore.models.archs import count_macs, parameter_count
from restore.models.cards import REFERENCE_FRAME, card_path, new_card
from restore.models.loading import save_safetensors, write_json
from restore.models.vsr_arch import WindowFusionSR
from restore.pipeline.spec import parse_pipeline
from restore.stages.base import StageContext
from restore.stages.superres import SuperResolution
from tests.conftest import framemd5, make_clip


@pytest.fixture(scope="module")
def vsr_weights(tmp_path_factory) -> Path:
    torch.manual_seed(2)
    net = WindowFusionSR(radius=1, num_feat=8, num_pairs=1, upscale=2)
    torch.nn.init.normal_(net.tail.weight, std=0.05)          # untrained but not the identity
    path = tmp_path_factory.mktemp("vsr") / "tiny-vsr.safetensors"
    digest = save_safetensors(net.state_dict(), path)
    arch = {"type": "WindowFusionSR", "radius": 1, "num_feat": 8, "num_pairs": 1, "upscale": 2}
    write_json(card_path(path), new_card("tiny-vsr", arch, 2, parameter_count(net),
                                         count_macs(net, *REFERENCE_FRAME), digest, path.name, "test",
                                         radius=1, frames=3))
    return path


def _frames(n: int, h: int = 24, w: int = 32, seed: int = 0) -> list[Frame]:
    rng = np.random.default_rng(seed)
    return [Frame(i, Fraction(i, 25), image=rng.random((h, w, 3), dtype=np.float32)) for i in range(n)]


def _stage(weights: Path, batch_size: int = 2) -> SuperResolution:
    fmt = VideoFormat(32, 24, Fraction(25))
    spec = parse_pipeline(f"stages:\n  - stage: superres\n    weights: {weights}\n")
    stage = SuperResolution(spec.stages[0].params, StageContext(batch_size=batch_size, input_format=fmt,
                                                                source_format=fmt))
    stage.setup()
    return stage


def test_declares_its_reach_and_keeps_every_frame(vsr_weights):
    stage = _stage(vsr_weights)
    assert stage.radius == 1 and stage.describe()["frames"] == 3
    out = list(stage.run(iter(_frames(5))))
    assert [f.index for f in out] == list(range(5)) and out[0].image.shape == (48, 64, 3)


def test_output_reads_the_neighbours(vsr_weights):
    frames = _frames(3)
    base = list(_stage(vsr_weights).run(iter(frames)))[1].image
    changed = _frames(3)
    changed[2] = Frame(2, Fraction(2, 25), image=np.zeros_like(changed[2].image))
    other = list(_stage(vsr_weights).run(iter(changed)))[1].image
    assert np.abs(base - other).mean() > 1e-4              # the centre frame's output depends on frame 2


def test_batching_does_not_change_a_frame(vsr_weights):
    one = list(_stage(vsr_weights, batch_size=1).run(iter(_frames(5))))
    three = list(_stage(vsr_weights, batch_size=3).run(iter(_frames(5))))
    assert all(np.array_equal(a.image, b.image) for a, b in zip(one, three))


@pytest.mark.slow
def test_segmented_run_equals_whole_run(vsr_weights, tmp_path):
    from restore.batch.segments import run_resumable
    from restore.job import JobOptions, run_job

    src = make_clip(tmp_path / "clip.mkv", size="64x48", seconds=0.48, field="prog", pix_fmt="yuv420p",
                    audio_tracks=0)
    spec = parse_pipeline(f"name: vsr\nstages:\n  - stage: superres\n    weights: {vsr_weights}\n", source="<t>")
    opts = dict(provenance=False, sign=False)
    whole = run_job(src, tmp_path / "whole.mkv", spec, JobOptions(**opts)).output
    shutil.copy2(src, tmp_path / "again.mkv")
    seg = run_resumable(tmp_path / "again.mkv", tmp_path / "seg.mkv", spec, JobOptions(**opts), segment_frames=4)
    assert framemd5(seg.output) == framemd5(whole)
    assert len(framemd5(whole)) == 12
