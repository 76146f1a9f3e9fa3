"""Degradation synthesis: reproducible, right size, and each archival effect measurable."""

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
from pictures import flat_image, natural_image  # noqa: E402

from restore.cli import main  # noqa: E402
from restore.errors import UserError  # noqa: E402
from restore.training.analyze import analyze_frames, count_specks  # noqa: E402
from restore.training.degrade import PRESETS, DegradationModel  # noqa: E402
from restore.training.degradations import OPS, Context  # noqa: E402
from restore.training.degradations.analog import rgb_to_ycc  # noqa: E402
from restore.training.degradations.codecs import ffmpeg_roundtrip  # noqa: E402
from restore.training.degradations.film import draw_dust  # noqa: E402


def _op(name, image, seed=0, clip=False, **params):
    return OPS[name]([image], params, Context(rng=np.random.default_rng(seed), clip=clip))[0]


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_seeded_reproducible_and_sized(preset):
    hr = natural_image(1, 136, 104)  # not multiples of 8 or of the scale's blocks
    model = DegradationModel(preset=preset)
    state = np.random.get_state()
    a = model.degrade(hr, np.random.default_rng(7), 4)
    b = model.degrade(hr, np.random.default_rng(7), 4)
    c = model.degrade(hr, np.random.default_rng(8), 4)
    assert np.random.get_state()[1].tolist() == state[1].tolist()  # basicsr's global draws are contained
    assert a.shape == (34, 26, 3) and a.dtype == np.float32
    assert a.tobytes() == b.tobytes()
    assert a.tobytes() != c.tobytes()
    assert np.array_equal(np.round(a * 255) / 255, a)  # 8-bit levels, like the archive
    assert not np.allclose(a, cv2.resize(hr, (26, 34), interpolation=cv2.INTER_AREA), atol=2 / 255)


@pytest.mark.parametrize("codec,quality", [("mpeg2", 12), ("h264", 38)])
def test_ffmpeg_codec_round_trip_is_reproducible_and_blocky(codec, quality):
    frames = [natural_image(s, 72, 88) for s in range(3)]  # odd size for macroblocks: padded and cropped
    out = ffmpeg_roundtrip(frames, codec, quality)
    again = ffmpeg_roundtrip(frames, codec, quality)
    assert len(out) == 3 and out[0].shape == (72, 88, 3)
    assert all(x.tobytes() == y.tobytes() for x, y in zip(out, again))
    error = np.mean([np.abs(x - y).mean() for x, y in zip(out, frames)])
    assert 0.003 < error < 0.1


def test_batch_encodes_patches_as_one_clip():
    model = DegradationModel(config={"codec": {"ffmpeg_prob": 1.0}}, preset="pal-broadcast")
    patches = [natural_image(s, 64, 64) for s in range(4)]
    out = model.degrade_batch(patches, np.random.default_rng(0), 2)
    assert [o.shape for o in out] == [(32, 32, 3)] * 4
    single = [model.degrade(p, np.random.default_rng(0), 2) for p in patches[:1]]
    assert single[0].shape == (32, 32, 3)


def test_interlacing_raises_comb_energy():
    img = natural_image(2, 192, 192)
    combed = _op("interlace", img, motion=[2.0, 3.0], blend_prob=0.0)
    before, after = analyze_frames([img])["interlace"], analyze_frames([combed])["interlace"]
    assert before < 0.8 < after
    blended = _op("interlace", img, motion=[2.0, 3.0], blend_prob=1.0, blend=[0.5, 0.5])
    assert analyze_frames([blended])["interlace"] < 0.8  # a blended field ghosts, it does not comb


def _horizontal_detail(plane):
    """Energy above roughly a quarter of the horizontal Nyquist frequency."""
    smooth = cv2.GaussianBlur(plane, (0, 0), sigmaX=1.5, sigmaY=1e-3)
    return float(np.abs(plane - smooth).mean())


def test_chroma_bandwidth_is_lost_but_luma_kept():
    img = natural_image(3, 160, 160)
    out = _op("chroma", img, bandwidth=[0.1, 0.1], subsampling={"choices": ["420"]})
    ycc_in, ycc_out = rgb_to_ycc(img), rgb_to_ycc(out)
    for c in (1, 2):
        assert _horizontal_detail(ycc_out[..., c]) < 0.5 * _horizontal_detail(ycc_in[..., c])
    assert _horizontal_detail(ycc_out[..., 0]) > 0.9 * _horizontal_detail(ycc_in[..., 0])


def test_luma_bandwidth_is_horizontal_only():
    img = natural_image(4, 160, 160)
    y_in, y_out = rgb_to_ycc(img)[..., 0], rgb_to_ycc(_op("luma_bandwidth", img, cutoff=[0.3, 0.3]))[..., 0]
    horizontal = _horizontal_detail(y_out) / _horizontal_detail(y_in)
    vertical = _horizontal_detail(y_out.T) / _horizontal_detail(y_in.T)
    assert horizontal < 0.7 and vertical > 0.8 and horizontal < vertical - 0.2  # edges across lines survive


def test_dust_count_matches():
    img = flat_image(240, 240)
    out = draw_dust(img, np.random.default_rng(5), count=14, radius=(0.8, 2.0))
    mask = (np.abs(out - img).max(axis=2) > 0.05).astype(np.uint8)
    n_components = cv2.connectedComponents(mask, connectivity=8)[0] - 1
    assert n_components == 14


def test_dust_lives_one_frame_and_scratches_persist():
    steps = [{"op": "dust", "density": [300.0, 300.0]}]
    frames = [flat_image(160, 160)] * 6
    out = list(DegradationModel(config={"steps": steps}).degrade_clip(iter(frames), np.random.default_rng(1), 1))
    masks = [(np.abs(o - 0.5).max(axis=2) > 0.05) for o in out]
    assert all(m.any() for m in masks)
    overlap = np.mean([(a & b).sum() / max(a.sum(), 1) for a, b in zip(masks, masks[1:])])
    assert overlap < 0.2  # new specks every frame
    assert sum(count_specks(*(o.mean(axis=2) for o in out[i - 1:i + 2])) for i in range(1, 5)) > 0

    steps = [{"op": "scratches", "rate": [75.0, 75.0], "lifetime": [50, 60]}]
    out = list(DegradationModel(config={"steps": steps}).degrade_clip(iter(frames), np.random.default_rng(2), 1))
    columns = [np.abs(o - 0.5).max(axis=2).mean(axis=0) for o in out]
    first = int(np.argmax(columns[1]))
    assert columns[1][first] > 0.05  # a full-height line
    # the same scratch, a few pixels away at most, in every later frame
    assert all(c[max(0, first - 4):first + 5].max() > 0.5 * columns[1][first] for c in columns[2:])


def test_flicker_changes_exposure_frame_to_frame():
    steps = [{"op": "flicker", "amplitude": [0.05, 0.05], "drift": [0.0, 0.0]}]
    frames = [flat_image(32, 32, 0.4)] * 40
    out = list(DegradationModel(config={"steps": steps}).degrade_clip(iter(frames), np.random.default_rng(3), 1))
    gains = np.array([o.mean() for o in out]) / 0.4
    assert 0.035 < gains.std() < 0.065


def test_grain_is_signal_dependent_and_fresh():
    ramp = np.repeat(np.linspace(0.02, 0.98, 256, dtype=np.float32)[None, :, None], 64, axis=0).repeat(3, 2)
    steps = [{"op": "grain", "amount": [8.0, 8.0], "size": [0.6, 0.6], "mono_prob": 1.0}]
    a, b = DegradationModel(config={"steps": steps}).degrade_clip(iter([ramp, ramp]), np.random.default_rng(0), 1)
    residual = (a - ramp)[..., 0]
    assert residual[:, 110:146].std() > 1.5 * residual[:, :20].std()  # mid-tones grainier than shadows
    assert not np.array_equal(a, b)


def test_clip_keeps_frame_count_across_chunks():
    frames = [natural_image(s % 3, 64, 64) for s in range(13)]
    out = list(DegradationModel(preset="film").degrade_clip(iter(frames), np.random.default_rng(0), 2, chunk=5))
    assert len(out) == 13 and out[0].shape == (32, 32, 3)


def test_config_overrides_and_errors():
    model = DegradationModel(config={"noise": {"sigma": [9.0, 9.0]}}, preset="pal-broadcast")
    assert [s["sigma"] for s in model.steps if s["op"] == "noise"] == [[9.0, 9.0]]
    assert DegradationModel(preset="vhs").preset == "vhs"
    with pytest.raises(UserError, match="unknown degradation preset"):
        DegradationModel(preset="betamax-ish")
    with pytest.raises(UserError, match="unknown operation"):
        DegradationModel(config={"sparkle": {}})
    with pytest.raises(UserError, match="has no dust step"):
        DegradationModel(config={"dust": {"density": [1, 2]}}, preset="pal-broadcast")


def _cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_cli_degrades_an_image(tmp_path):
    src = tmp_path / "in.png"
    cv2.imwrite(str(src), (natural_image(5, 128, 96)[..., ::-1] * 255).astype(np.uint8))
    result = _cli("degrade", src, tmp_path / "out.png", "--preset", "film", "--seed", "4", "--scale", "2")
    assert result.exit_code == 0, result.output
    assert cv2.imread(str(tmp_path / "out.png")).shape == (64, 48, 3)
    again = _cli("degrade", src, tmp_path / "out2.png", "--preset", "film", "--seed", "4", "--scale", "2")
    assert again.exit_code == 0
    assert (tmp_path / "out.png").read_bytes() == (tmp_path / "out2.png").read_bytes()
    assert _cli("degrade", src, tmp_path / "out.png").exit_code == 2  # exists: not overwritten
    assert _cli("degrade", src, src, "--overwrite").exit_code == 2      # never over the input


def test_cli_degrades_a_clip_keeping_frame_count(tmp_path):
    clip = tmp_path / "tiny.mkv"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=160x120:r=25:d=0.44",
                    "-c:v", "ffv1", str(clip)], check=True)
    result = _cli("degrade", clip, tmp_path / "out.mkv", "--preset", "pal-vhs", "--seed", "1")
    assert result.exit_code == 0, result.output
    probe = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-show_entries",
                            "stream=nb_read_frames,width,height", "-of", "csv=p=0", str(tmp_path / "out.mkv")],
                           capture_output=True, text=True, check=True).stdout.strip()
    assert probe == "160,120,11"
