"""Super-resolution: geometry with display aspect, strength blend, real checkpoints."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

from restore.frame import Frame, VideoFormat
from restore.models.loading import save_safetensors
from restore.pipeline.spec import parse_pipeline
from restore.stages.base import StageContext
from restore.stages.superres import SuperResolution, target_geometry

SHARED = Path(__file__).resolve().parents[2].parent / "shared"


def test_pal_geometry_to_square_pixels():
    pal43 = VideoFormat(720, 576, Fraction(25), sar=Fraction(16, 15))
    assert target_geometry(pal43, 2, None, None, True) == (1536, 1152, Fraction(1))
    assert target_geometry(pal43, 2, None, (1440, 1080), True) == (1440, 1080, Fraction(1))
    pal169 = VideoFormat(720, 576, Fraction(25), sar=Fraction(64, 45))
    w, h, sar = target_geometry(pal169, 2, None, None, True)
    assert (h, sar) == (1152, 1) and abs(w / h - 16 / 9) < 0.01
    assert target_geometry(pal43, 4, 2, None, False) == (1440, 1152, Fraction(16, 15))


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory) -> Path:
    import restore.models.compat  # noqa: F401
    from basicsr.archs.srvgg_arch import SRVGGNetCompact

    torch.manual_seed(1)
    net = SRVGGNetCompact(3, 3, num_feat=8, num_conv=2, upscale=2, act_type="prelu")
    path = tmp_path_factory.mktemp("w") / "tiny-x2.safetensors"
    save_safetensors(net.state_dict(), path)
    return path


def _frames(n, h=24, w=32):
    rng = np.random.default_rng(0)
    return [Frame(i, Fraction(i, 25), image=rng.random((h, w, 3), dtype=np.float32)) for i in range(n)]


def _stage(weights, fmt, **params):
    spec = parse_pipeline(f"stages:\n  - stage: superres\n    weights: {weights}\n" +
                          "".join(f"    {k}: {v}\n" for k, v in params.items()))
    p = spec.stages[0].params
    ctx = StageContext(batch_size=2, input_format=fmt, source_format=fmt)
    stage = SuperResolution(p, ctx)
    stage.setup()
    return stage


def test_output_size_batching_and_determinism(tiny_weights):
    fmt = VideoFormat(32, 24, Fraction(25))
    stage = _stage(tiny_weights, fmt)
    assert stage.output_format(fmt).width == 64
    a = list(stage.run(iter(_frames(3))))
    b = list(stage.run(iter(_frames(3))))
    assert [f.image.shape for f in a] == [(48, 64, 3)] * 3
    assert all(np.array_equal(x.image, y.image) for x, y in zip(a, b))
    assert stage.models()[0]["sha256"] and stage.models()[0]["scale"] == 2


def test_strength_zero_is_lanczos_and_tiles_do_not_change_the_picture(tiny_weights):
    import cv2

    fmt = VideoFormat(64, 48, Fraction(25))
    frames = _frames(1, 48, 64)
    zero = list(_stage(tiny_weights, fmt, strength=0.0).run(iter(frames)))[0].image
    lanczos = np.clip(cv2.resize(frames[0].image, (128, 96), interpolation=cv2.INTER_LANCZOS4), 0, 1)
    assert np.allclose(zero, lanczos, atol=1e-6)
    whole = list(_stage(tiny_weights, fmt).run(iter(frames)))[0].image
    tiles = list(_stage(tiny_weights, fmt, tile=32, tile_overlap=16).run(iter(frames)))[0].image
    assert np.abs(whole - tiles).max() < 2e-3


@pytest.mark.skipif(not (SHARED / "weights").is_dir(), reason="../shared/weights not present")
def test_realesrgan_checkpoint_runs_at_x4_resized_to_x2():
    path = SHARED / "weights" / "realesr-animevideov3.pth"
    fmt = VideoFormat(32, 24, Fraction(25))
    stage = _stage(path, fmt, scale=2)
    out = list(stage.run(iter(_frames(1))))[0].image
    assert out.shape == (48, 64, 3)
    assert stage.model.scale == 4


def test_cli_size_and_scale_override_the_pipeline(tmp_path):
    from tests.conftest import make_clip, probe_json, run_cli

    src = make_clip(tmp_path / "pal.mkv", size="176x144", seconds=0.12, audio_tracks=0, field="prog")
    pipeline = tmp_path / "sr.yaml"
    pipeline.write_text("stages:\n  - stage: superres\n    weights: restore-sr-x2\n")
    for flag, value, expected in (("--scale", "1", (176, 144)), ("--size", "320x240", (320, 240))):
        out = tmp_path / f"o{flag}.mkv"
        res = run_cli("run", str(src), "-o", str(out), "-p", str(pipeline), flag, value, "-q", "--no-sign")
        assert res.returncode == 0, res.stderr
        v = next(s for s in probe_json(out)["streams"] if s["type"] == "video")
        assert (v["width"], v["height"], v["frame_count"]) == (*expected, 3)
    res = run_cli("run", str(src), "-o", str(tmp_path / "p.mkv"), "-p", "passthrough", "--size", "320x240")
    assert res.returncode == 2 and "--scale/--size need a stage that resizes (superres)" in res.stderr


def test_hold_to_source_gives_the_source_back_and_keeps_finer_detail():
    """Back-projection: the area downscale of the held picture is the source again (×2 and PAL 576 → 1080),
    a level shift the upscale added is gone, the upscale's finest detail (which the area average cannot
    see) is kept, and ``amount`` blends linearly."""
    import cv2

    from restore.metrics import psnr_y
    from restore.stages.superres import hold_to_source

    rng = np.random.default_rng(5)
    for (h, w), (out_h, out_w), floor in (((72, 96), (144, 192), 60.0), ((576, 720), (1080, 1440), 45.0)):
        source = cv2.GaussianBlur(rng.random((h, w, 3), dtype=np.float32), (0, 0), 0.7) * 0.8 + 0.1
        upscale = cv2.resize(source, (out_w, out_h), interpolation=cv2.INTER_LANCZOS4)
        detail = (rng.random((out_h, out_w, 3), dtype=np.float32) - 0.5) * 0.1
        image = np.clip(upscale + detail + 0.03, 0, 1)          # fine detail and a level shift on top
        held = hold_to_source(image, source)
        back = cv2.resize(held, (w, h), interpolation=cv2.INTER_AREA)
        assert psnr_y(back, source) > floor
        assert psnr_y(cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA), source) < 32   # it was not
        assert abs(float((held - image).mean()) + 0.03) < 0.003

        def finest(x):
            return x - cv2.GaussianBlur(x, (0, 0), 0.5)
        assert np.corrcoef(finest(held).ravel(), finest(image).ravel())[0, 1] > 0.95
    checker = ((np.indices((out_h, out_w)).sum(0) % 2) * 0.1 - 0.05).astype(np.float32)[..., None].repeat(3, 2)
    kept = hold_to_source(np.clip(upscale + checker, 0, 1), source) - upscale   # the area average reads it as 0
    assert np.abs(kept - checker).mean() < 0.25 * np.abs(checker).mean()
    half = hold_to_source(image, source, 0.5)
    np.testing.assert_allclose(half, np.clip(image + 0.5 * (held - image), 0, 1), atol=1e-5)
    np.testing.assert_array_equal(hold_to_source(image, source, 0.0), image)
