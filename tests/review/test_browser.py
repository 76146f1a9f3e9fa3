"""The report page in headless Chromium: loads cleanly, the wipe and the scrubber work, charts draw.

Runs wherever Debian's chromium and chromium-driver are installed (make install puts them
there as root); skips with the reason otherwise. Saves a screenshot in tests/review/artifacts/.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.review import browser

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(browser.available() is not None, reason=str(browser.available()))]

ARTIFACTS = Path(__file__).parent / "artifacts"


def wait_for(driver, script: str, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for: {script}")


def set_range(driver, element_id: str, value) -> None:
    driver.execute_script(
        "const el = document.getElementById(arguments[0]); el.value = arguments[1];"
        "el.dispatchEvent(new Event('input', {bubbles: true}));", element_id, str(value))


def chart_has_ink(driver, element_id: str) -> bool:
    # charts draw no images, so their pixels can be read back even from file://
    return driver.execute_script(
        "const c = document.getElementById(arguments[0]); const d = c.getContext('2d')"
        ".getImageData(0, 0, c.width, c.height).data; let n = 0;"
        "for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n > 50;", element_id)


def test_report_page_in_headless_chromium(built_report):
    ARTIFACTS.mkdir(exist_ok=True)
    with browser.chromium() as driver:
        driver.get(built_report.as_uri())
        wait_for(driver, "return document.body.dataset.ready === '1'")
        wait_for(driver, "return [...document.images].every(i => i.complete)")

        # nothing failed: no console errors, every picture decoded, nothing fetched off this disk
        errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
        assert errors == []
        broken = driver.execute_script("return [...document.images].filter(i => !i.naturalWidth).map(i => i.src)")
        assert broken == []
        remote = driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name).filter(n => !n.startsWith('file:'))")
        assert remote == []

        # the wipe slider moves the wipe
        set_range(driver, "wipe", 20)
        clip = driver.execute_script("return document.getElementById('after').style.clipPath")
        assert clip == "inset(0px 0px 0px 20%)"
        assert driver.execute_script("return document.getElementById('handle').style.left") == "20%"

        # the scrubber changes the frame and the pictures (frame 6 holds the invented block)
        first_src = driver.execute_script("return document.getElementById('after').src")
        set_range(driver, "scrubber", 6)
        assert driver.execute_script("return document.getElementById('stage').dataset.frame") == "6"
        shown = driver.execute_script("return document.getElementById('after').src")
        assert shown != first_src and "/frames/00000" in shown
        wait_for(driver, "return document.getElementById('after').complete")
        assert driver.execute_script("return document.querySelectorAll('#boxes div').length") >= 1
        assert "frame 6" in driver.find_element("id", "framelabel").text

        # the loupe follows the pointer and the wheel zooms it (AFTER is 512×384: 120 px at ×2 around the point)
        from selenium.webdriver.common.action_chains import ActionChains

        stage = driver.find_element("id", "stage")
        ActionChains(driver).move_to_element_with_offset(stage, -stage.size["width"] // 4, 0).perform()
        region = driver.execute_script("return document.getElementById('loupe-after').dataset.region")
        x, y, size = map(int, region.split(","))
        assert size == 120 and abs(x + size / 2 - 128) <= 4 and abs(y + size / 2 - 192) <= 4
        driver.execute_script("document.getElementById('stage').dispatchEvent(new WheelEvent('wheel', {deltaY: -1, "
                              "bubbles: true, cancelable: true}))")
        assert driver.find_element("id", "loupe-zoom").text == "4"
        assert driver.execute_script("return document.getElementById('loupe-after').dataset.region").endswith(",60")

        # the source is shown upscaled with nearest neighbour, or smoothly on request
        assert driver.execute_script("return document.getElementById('before').style.imageRendering") == "pixelated"
        driver.execute_script("const s = document.getElementById('resample'); s.value = 'smooth';"
                              "s.dispatchEvent(new Event('change'))")
        assert driver.execute_script("return document.getElementById('before').style.imageRendering") == "auto"
        assert driver.find_element("id", "loupe-mode").text == "bicubic"

        # charts render, and follow the frame
        for chart in ("chart-fidelity", "chart-flicker", "chart-niqe", "chart-identity", "chart-stages"):
            assert chart_has_ink(driver, chart), chart
            assert driver.execute_script("return document.getElementById(arguments[0]).dataset.drawn", chart) == "6"

        # inventions table and face panel
        rows = driver.execute_script(
            "return [...document.querySelectorAll('#inventions-body tr')].map(r => r.dataset.frame)")
        assert sorted(map(int, rows)) == [5, 6, 7]
        assert driver.execute_script("return document.querySelectorAll('.track').length") == 2
        assert driver.execute_script("return document.querySelectorAll('.track.low').length") == 1

        # provenance: the model's weights and corpus hashes are shown
        provenance = driver.find_element("id", "provenance-body").text
        assert "ab" * 32 in provenance and "cd" * 32 in provenance and "kWh" in provenance

        # clicking an invention row goes to its frame
        driver.execute_script("document.querySelector('#inventions-body tr[data-frame=\"7\"]').click()")
        assert driver.execute_script("return document.getElementById('stage').dataset.frame") == "7"

        # an invention frame shows its stretch's stored invention, heatmap and boxes included
        shown = driver.execute_script("return document.getElementById('stage').dataset.shown")
        assert int(shown) in (5, 6, 7)
        set_range(driver, "wipe", 45)
        wait_for(driver, "return [...document.images].every(i => i.complete)")
        driver.execute_script("window.scrollTo(0, 0)")
        assert driver.save_screenshot(str(ARTIFACTS / "review-page.png"))
        assert (ARTIFACTS / "review-page.png").stat().st_size > 10_000
        driver.execute_script("document.getElementById('inventions').scrollIntoView()")
        assert driver.save_screenshot(str(ARTIFACTS / "review-faces.png"))
