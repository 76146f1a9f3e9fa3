"""The fidelity map: removed grain, brightness changes and faithful upscaling pass; invented structure does not."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from restore.review.fidelity import DEFAULT_THRESHOLD, assess, departure_map, heatmap_image


@pytest.fixture(scope="module")
def picture() -> np.ndarray:
    skimage_data = pytest.importorskip("skimage.data")
    return cv2.resize(skimage_data.astronaut().astype(np.float32) / 255, (360, 288), interpolation=cv2.INTER_AREA)


def grain(image: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(image + rng.normal(0, sigma, image.shape[:2])[..., None].astype(np.float32), 0, 1)


def test_identical_frames_have_no_departure(picture):
    result = assess(departure_map(picture, picture))
    assert result.score == pytest.approx(1.0, abs=1e-5)
    assert result.regions == [] and result.area_above == 0


@pytest.mark.parametrize("name", ["grain removed", "brightness +10 %", "x2 bicubic round trip", "light denoise"])
def test_legitimate_restoration_is_not_an_invention(picture, name):
    before, after = {
        "grain removed": (grain(picture, 0.06), picture),
        "brightness +10 %": (picture, np.clip(picture * 1.1, 0, 1)),
        "x2 bicubic round trip": (picture, cv2.resize(cv2.resize(picture, (720, 576), interpolation=cv2.INTER_CUBIC),
                                                      (360, 288), interpolation=cv2.INTER_AREA)),
        "light denoise": (grain(picture, 0.04), cv2.GaussianBlur(grain(picture, 0.04), (0, 0), 1.0)),
    }[name]
    result = assess(departure_map(before, after))
    assert result.regions == [], name
    assert result.score > 0.97, name


def test_invented_patch_is_found_where_it_was_painted(picture):
    after = picture.copy()
    rng = np.random.default_rng(1)
    stripes = (np.sin(np.arange(80) / 1.5)[None, :] > 0).astype(np.float32)
    after[100:160, 200:280] = np.clip(stripes[:, :, None] * 0.8 + rng.normal(0, 0.02, (60, 80, 1)), 0, 1)
    result = assess(departure_map(picture, after))
    assert result.regions, "a painted patch must be listed"
    x, y, w, h = result.regions[0].box
    # the region covers the patch (SSIM's window widens it by a few pixels)
    assert x <= 204 and y <= 104 and x + w >= 276 and y + h >= 156
    assert x >= 185 and y >= 85 and x + w <= 295 and y + h <= 175
    assert result.regions[0].peak > DEFAULT_THRESHOLD
    unchanged = departure_map(picture, after)[:80, :150]
    assert float(unchanged.max()) < 0.05


def test_heatmap_is_transparent_where_faithful_and_red_above_threshold():
    departure = np.zeros((100, 200), np.float32)
    departure[40:60, 100:140] = 0.9
    overlay = heatmap_image(departure, threshold=0.35, max_side=100)
    assert overlay.shape == (50, 100, 4)
    assert overlay[5, 5, 3] == 0                        # faithful: fully transparent
    b, g, r, a = overlay[25, 60]
    assert (r, g, a) == (255, 0, 230)                   # above threshold: opaque red

