"""Footage analysis lands near known truth, prints JSON, and `match:` pulls synthesis toward footage."""

import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
from pictures import flat_image, natural_image, write_ffv1  # noqa: E402

from restore.cli import main  # noqa: E402
from restore.training.analyze import analyze_footage, analyze_frames  # noqa: E402
from restore.training.degrade import DegradationModel  # noqa: E402
from restore.training.degradations.codecs import jpeg  # noqa: E402
from restore.training.degradations.film import draw_dust  # noqa: E402
from restore.training.degradations.match import measure, panned_clip, synthetic_vs_real  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
OLD_FILM = REPO / ".." / "shared" / "media" / "old-film" / "oldfilm-002.mkv"


def _smooth(seed, size=192):
    img = natural_image(seed, size, size)
    return cv2.GaussianBlur(img, (0, 0), 1.2)  # soft enough that texture does not read as noise


@pytest.mark.parametrize("sigma", [0.0, 3.0, 8.0])
def test_noise_sigma_near_truth(sigma):
    rng = np.random.default_rng(1)
    frames = [np.clip(_smooth(s) + rng.normal(0, sigma / 255, (192, 192, 1)), 0, 1).astype(np.float32)
              for s in range(3)]
    estimate = analyze_frames(frames, consecutive=False)["noise_sigma"]
    assert abs(estimate - sigma) < 0.15 * sigma + 0.8


def test_edge_width_orders_blur():
    sharp, soft = natural_image(2, 192, 192), cv2.GaussianBlur(natural_image(2, 192, 192), (0, 0), 2.0)
    a, b = analyze_frames([sharp])["edge_width_px"], analyze_frames([soft])["edge_width_px"]
    assert a < 1.0 and 1.6 < b < 2.6


def test_blockiness_detects_jpeg():
    img = natural_image(3, 192, 192)
    clean = analyze_frames([img])["blockiness"]
    blocky = analyze_frames([jpeg(img, 15)])["blockiness"]
    assert clean < 1.15 < 1.3 < blocky


def test_interlacing_known():
    a, b = natural_image(4, 192, 192), np.roll(natural_image(4, 192, 192), 3, axis=1)
    woven = a.copy()
    woven[1::2] = b[1::2]
    assert analyze_frames([a])["interlace"] < 0.8 < 1.0 < analyze_frames([woven])["interlace"]


def test_flicker_known():
    base, rng = _smooth(5), np.random.default_rng(2)
    gains = 1 + 0.03 * rng.standard_normal(40)
    stats = analyze_frames([np.clip(base * g, 0, 1) for g in gains])
    assert 0.022 < stats["flicker"] < 0.042
    assert analyze_frames([base] * 10)["flicker"] < 0.002


def test_dust_density_known():
    rng = np.random.default_rng(3)
    frames = [draw_dust(flat_image(250, 400), rng, 10, radius=(1.0, 2.0)) for _ in range(8)]
    stats = analyze_frames(frames)
    truth = 10 / (250 * 400 / 1e6)  # 100 specks per megapixel
    assert abs(stats["dust_per_mpx"] - truth) < 0.2 * truth
    assert analyze_frames([flat_image(250, 400)] * 5)["dust_per_mpx"] == 0


def test_patches_skip_temporal_figures():
    stats = analyze_frames([natural_image(s, 64, 64) for s in range(4)], consecutive=False)
    assert stats["flicker"] is None and stats["dust_per_mpx"] is None and stats["noise_sigma"] is not None


def _dusty_flickering_clip(path, frames=12):
    rng = np.random.default_rng(9)
    base = _smooth(6, 160)
    out = [draw_dust(np.clip(base * (1 + 0.04 * rng.standard_normal()), 0, 1), rng, 6) for _ in range(frames)]
    return write_ffv1(path, out)


def test_cli_prints_json(tmp_path):
    clip = _dusty_flickering_clip(tmp_path / "clip.mkv")
    result = CliRunner().invoke(main, ["analyze", str(clip)])
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert stats["frames_analyzed"] == 12 and stats["width"] == 160 and stats["fps"] == 25.0
    assert stats["dust_per_mpx"] > 100 and stats["flicker"] > 0.02
    assert CliRunner().invoke(main, ["analyze", str(tmp_path / "none.mkv")]).exit_code == 2


def test_match_moves_synthetic_figures_toward_footage(tmp_path):
    clip = _dusty_flickering_clip(tmp_path / "footage.mkv")
    real = analyze_footage(clip)
    hr = [natural_image(7, 320, 320)] * 10
    keys = ("flicker", "dust_per_mpx", "edge_width_px")

    floors = {"flicker": 0.002, "dust_per_mpx": 5.0, "edge_width_px": 0.1}

    def distance(stats):  # |log ratio|: a count that is 0 is far from 200, 2× off is 0.7
        return {k: abs(np.log((stats[k] + floors[k]) / (real[k] + floors[k]))) for k in keys}

    plain = DegradationModel(preset="film", config={"dust": {"density": [0.0, 1.0]},
                                                     "flicker": {"amplitude": [0.0, 0.002]}})
    matched = DegradationModel(preset="film", config={"dust": {"density": [0.0, 1.0]},
                                                       "flicker": {"amplitude": [0.0, 0.002]},
                                                       "match": str(clip)})
    assert matched.matched["dust_per_mpx"] == real["dust_per_mpx"]
    before = distance(measure(plain, hr, np.random.default_rng(0), 2))
    after = distance(measure(matched, hr, np.random.default_rng(0), 2))
    assert after["dust_per_mpx"] < 0.5 * before["dust_per_mpx"]
    assert after["flicker"] < 0.6 * before["flicker"]
    assert after["dust_per_mpx"] < np.log(3) and after["flicker"] < np.log(2)


@pytest.mark.slow
@pytest.mark.shared
def test_match_lands_near_real_old_film():
    if not OLD_FILM.is_file():
        pytest.skip("../shared/media/old-film is absent")
    real = analyze_footage(OLD_FILM, max_frames=30)
    hr = panned_clip(natural_image(8, 400, 560), 12)
    report = synthetic_vs_real(real, hr, preset="film", scale=2)
    assert report["distance"]["matched"] < 0.5 * report["distance"]["plain"]
    assert report["matched"]["colourfulness"] < 1.5  # black-and-white footage gives grey synthesis


def test_cli_against_corpus_reports_synthetic_figures(tmp_path):
    clip = _dusty_flickering_clip(tmp_path / "footage.mkv")
    picture = tmp_path / "p.png"
    cv2.imwrite(str(picture), (natural_image(10, 200, 240)[..., ::-1] * 255).astype(np.uint8))
    corpus = tmp_path / "corpus"
    runner = CliRunner()
    assert runner.invoke(main, ["corpus", "init", str(corpus)]).exit_code == 0
    assert runner.invoke(main, ["corpus", "add", str(corpus), str(picture), "--kind", "general",
                                "--source", "test", "--license", "CC0-1.0"]).exit_code == 0
    result = runner.invoke(main, ["analyze", str(clip), "--against", str(corpus), "--preset", "film"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    synthetic = report["synthetic"]
    assert report["footage"]["dust_per_mpx"] > 100 and synthetic["frames"] == 12
    assert synthetic["distance"]["matched"] < synthetic["distance"]["plain"]
