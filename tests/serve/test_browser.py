"""A whole visit to the workbench in real headless Chromium: start a job on a tiny clip, watch it reach
100 %, review it, paint a keep-source region on a frame, re-run, check the output's pixels there are the
source's (exactly) and that the provenance names the correction, approve, and validate the bag.

Skips with the reason where Debian's chromium and chromedriver are missing. Screenshots of each page go to
tests/serve/artifacts/, and into docs/ (for the README) with RESTORE_SCREENSHOTS=docs.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.review import browser
from tests.serve.conftest import H, W, LiveServer, decode_rgb, settings_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600),
              pytest.mark.skipif(browser.available() is not None, reason=str(browser.available()))]

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).parent / "artifacts"


def wait_for(driver, script: str, timeout: float = 120.0, *args):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script(script, *args)
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for: {script}")


def screenshot(driver, name: str, height: int) -> None:
    """A PNG of the page's top ``height`` CSS pixels (kept small for the README)."""
    ARTIFACTS.mkdir(exist_ok=True)
    driver.set_window_size(1200, height)
    time.sleep(0.3)
    targets = [ARTIFACTS / name]
    if os.environ.get("RESTORE_SCREENSHOTS") == "docs":
        (REPO / "docs").mkdir(exist_ok=True)
        targets.append(REPO / "docs" / name)
    png = driver.get_screenshot_as_png()
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    # 8 grey levels per channel after a light quantisation: flat UI colours compress well, text stays sharp
    small = cv2.resize(image, (image.shape[1] * 3 // 4, image.shape[0] * 3 // 4), interpolation=cv2.INTER_AREA)
    for target in targets:
        cv2.imwrite(str(target), small, [cv2.IMWRITE_PNG_COMPRESSION, 9])


def no_errors(driver) -> None:
    """Nothing failed on the page: no console error, no broken picture, nothing fetched off this server."""
    errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert errors == []
    remote = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)"
                                   ".filter(n => !n.startsWith(location.origin) && !n.startsWith('data:'))")
    assert remote == []


def click(driver, css: str, tries: int = 5) -> None:
    """Click what ``css`` finds, finding it again if the page re-rendered it in between."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    for attempt in range(tries):
        try:
            driver.find_element(By.CSS_SELECTOR, css).click()
            return
        except StaleElementReferenceException:
            if attempt == tries - 1:
                raise
            time.sleep(0.2)


def set_value(driver, element_id: str, value) -> None:
    driver.execute_script("const el = document.getElementById(arguments[0]); el.value = arguments[1];"
                          "el.dispatchEvent(new Event('change', {bubbles: true}));", element_id, str(value))


def test_a_whole_visit(workbench_root):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    from restore.provenance.verify import verify_output, verify_package

    timings = {}
    t0 = time.monotonic()
    with LiveServer(settings_for(workbench_root)) as server, browser.chromium(1200, 1000) as driver:
        # --- 1. jobs: choose the film, see its probe facts, pick the preset, start -----------------
        driver.get(server.url + "/")
        visible = "return [...document.getElementById('source').options].filter(o => o.value && !o.hidden).length"
        driver.find_element(By.ID, "filter").send_keys("nothing-like-it")
        assert driver.execute_script(visible) == 0
        driver.find_element(By.ID, "filter").clear()
        driver.find_element(By.ID, "filter").send_keys("CLIP")
        assert driver.execute_script(visible) == 1
        Select(driver.find_element(By.ID, "source")).select_by_value("films/clip.mkv")
        wait_for(driver, "return document.getElementById('facts').textContent.includes('160×120')", 30)
        assert "12 (" in driver.find_element(By.ID, "facts").text            # frames, counted by probe
        driver.find_element(By.CSS_SELECTOR, "input[name=preset][value=test-denoise]").click()
        driver.find_element(By.ID, "who").send_keys("A. Conservator")
        driver.find_element(By.ID, "start").click()
        # progress is live, and reaches 100 %
        wait_for(driver, "return document.querySelector('#jobs-body tr[data-state]')", 30)
        wait_for(driver, "const r = document.querySelector('#jobs-body tr'); return r && r.dataset.state === 'done'"
                         " && r.textContent.includes('12/12 frames (100 %)')", 240)
        timings["first run"] = time.monotonic() - t0
        job = driver.find_element(By.CSS_SELECTOR, "#jobs-body tr").get_attribute("data-job")
        folder = workbench_root / "restore-workbench" / "jobs" / job
        # another tab sees the same state
        driver.switch_to.new_window("tab")
        driver.get(server.url + "/")
        wait_for(driver, f"const r = document.querySelector('#jobs-body tr[data-job=\"{job}\"]');"
                         "return r && r.dataset.state === 'done'", 20)
        Select(driver.find_element(By.ID, "source")).select_by_value("films/clip.mkv")   # its facts, for the picture
        wait_for(driver, "return document.getElementById('facts').textContent.includes('160×120')", 30)
        screenshot(driver, "workbench-jobs.png", 1000)
        no_errors(driver)

        # --- 2. review: the static report's views, on the finished output --------------------------
        rows = driver.find_elements(By.CSS_SELECTOR, "#jobs-body tr")
        time.sleep(1.5)      # a refresh or two: the row and its links stay the same elements
        assert driver.find_elements(By.CSS_SELECTOR, "#jobs-body tr") == rows
        click(driver, f"tr[data-job='{job}'] a.review")
        wait_for(driver, "return document.getElementById('frame-img').dataset.loaded === '0'", 30)
        driver.switch_to.frame(driver.find_element(By.ID, "report"))
        wait_for(driver, "return document.body.dataset.ready === '1'", 30)
        for element in ("wipe", "scrubber", "heat", "loupe", "chart-fidelity", "inventions", "faces"):
            assert driver.find_elements(By.ID, element), element
        driver.switch_to.default_content()

        # --- 3. correct: paint a keep-source region on frame 4, for frames 3–5 ----------------------
        set_value(driver, "frame", 4)
        wait_for(driver, "return document.getElementById('frame-img').dataset.loaded === '4'", 30)
        canvas = driver.find_element(By.ID, "mask")
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", canvas)
        set_value(driver, "brush", 20)
        width = canvas.size["width"]
        (ActionChains(driver).move_to_element_with_offset(canvas, -width // 4, 0).click_and_hold()
         .move_by_offset(width // 8, width // 20).move_by_offset(width // 8, -width // 10).release().perform())
        assert driver.execute_script("return document.getElementById('mask').dataset.painted") == "1"
        set_value(driver, "first", 3)
        set_value(driver, "last", 5)
        driver.find_element(By.ID, "why").send_keys("The denoiser smoothed the test card's gradient: keep it as filmed.")
        who = driver.find_element(By.ID, "who")
        who.clear()
        who.send_keys("A. Conservator")
        driver.execute_script("window.scrollTo(0, 0)")
        screenshot(driver, "workbench-review.png", 1000)
        no_errors(driver)
        driver.find_element(By.ID, "save-correction").click()
        wait_for(driver, "return document.getElementById('correction-message').textContent.startsWith('Saved')", 20)
        wait_for(driver, "return document.querySelectorAll('#corrections-body tr').length === 1", 10)
        doc = json.loads((folder / "corrections" / "corrections.json").read_text())
        correction = doc["corrections"][0]
        assert correction["kind"] == "keep_source" and correction["frames"] == [3, 5]
        assert correction["who"] == "A. Conservator"

        # --- re-run: only the segments holding frames 3–5 are restored again ------------------------
        seg2 = folder / "output" / ".clip.restored.mkv.work" / "seg-000002.mkv"
        seg2_before = seg2.stat().st_mtime_ns
        wait_for(driver, "return !document.getElementById('rerun').disabled", 10)
        t1 = time.monotonic()
        driver.find_element(By.ID, "rerun").click()
        wait_for(driver, "const s = document.getElementById('job-status').dataset;"
                         "return s.state === 'done' && s.applied === '1' && s.revision === '1'", 240)
        timings["re-run"] = time.monotonic() - t1
        wait_for(driver, "return document.querySelector('#corrections-body td.applied').textContent === 'yes'", 10)
        assert seg2.stat().st_mtime_ns == seg2_before               # segment 2 (frames 8–11) was not redone

        # the output's pixels under the mask are the source's, exactly, on frames 3–5 (and only there)
        mask = cv2.imread(str(folder / "corrections" / correction["mask"]), cv2.IMREAD_GRAYSCALE) > 0
        assert mask.shape == (H, W) and 200 < mask.sum() < 0.5 * H * W
        source = decode_rgb(workbench_root / "films" / "clip.mkv")
        output = decode_rgb(folder / "output" / "clip.restored.mkv")
        assert len(output) == len(source) == 12
        for i in (3, 4, 5):
            assert np.array_equal(output[i][mask], source[i][mask]), f"frame {i}"
        assert not np.array_equal(output[2][mask], source[2][mask])     # elsewhere the restoration stands
        assert not np.array_equal(output[4][~mask], source[4][~mask])

        # the provenance names the correction: record, PREMIS, C2PA, with who, when and why
        record = json.loads((folder / "output" / "clip.restored.mkv.provenance.json").read_text())["record"]
        listed = record["corrections"][0]
        assert (listed["id"], listed["who"], listed["frames"]) == (correction["id"], "A. Conservator", [3, 5])
        assert "gradient" in listed["why"] and listed["when"] == correction["when"]
        assert any(correction["id"] in e["eventDetail"] for e in record["events"])
        report = verify_output(folder / "output" / "clip.restored.mkv")
        assert report.exit_code == 0
        assert "edited" in [c for c in report.checks if c.name == "c2pa actions"][0].detail

        # --- 4. approve and package -------------------------------------------------------------------
        driver.get(f"{server.url}/jobs/{job}/approve")
        assert correction["id"] in driver.find_element(By.ID, "recorded-corrections").text
        approver = driver.find_element(By.ID, "approver")
        approver.clear()
        approver.send_keys("B. Curator")
        driver.find_element(By.ID, "note").send_keys("Checked against the source frame by frame.")
        t2 = time.monotonic()
        driver.find_element(By.ID, "approve").click()
        wait_for(driver, "return document.querySelector('#package-result.ok')", 240)
        timings["package"] = time.monotonic() - t2
        screenshot(driver, "workbench-approve.png", 900)
        no_errors(driver)

        # --- the review's inventions to check lead to the painter; the box tool paints rectangles ----------
        summary_path = folder / "report" / "summary.json"
        summary = json.loads(summary_path.read_text())
        summary["inventions"]["list"] = [{"frame": 7, "source": 7, "severity": 0.01,
                                          "regions": [{"box": [100, 60, 20, 10], "area": 0.01, "peak": 0.5, "mean": 0.3}]}]
        summary_path.write_text(json.dumps(summary))
        driver.get(f"{server.url}/jobs/{job}")
        wait_for(driver, "return document.getElementById('frame-img').dataset.loaded === '0'", 30)
        driver.find_element(By.CSS_SELECTOR, "#inventions button.paint-regions").click()
        wait_for(driver, "return document.getElementById('frame-img').dataset.loaded === '7'", 30)
        alpha = ("const c = document.getElementById('mask'); const d = c.getContext('2d')"
                 ".getImageData(arguments[0], arguments[1], 1, 1).data; return d[3];")
        assert driver.execute_script(alpha, 110, 65) == 255 and driver.execute_script(alpha, 90, 65) == 0
        assert driver.execute_script("return document.getElementById('first').value") == "7"
        driver.find_element(By.ID, "clear-mask").click()
        driver.find_element(By.CSS_SELECTOR, "input[name=tool][value=box]").click()
        canvas = driver.find_element(By.ID, "mask")
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", canvas)
        scale = canvas.size["width"] / W      # CSS pixels per frame pixel
        (ActionChains(driver).move_to_element_with_offset(canvas, int(-30 * scale), int(-20 * scale)).click_and_hold()
         .move_by_offset(int(20 * scale), int(10 * scale)).release().perform())
        assert driver.execute_script(alpha, 60, 45) == 255                # inside the box (frame pixels 50–70, 40–50)
        assert driver.execute_script(alpha, 40, 45) == 0 and driver.execute_script(alpha, 60, 60) == 0
        no_errors(driver)

    # the bag is valid, and holds the master, the access copy, their provenance and the approval
    data = json.loads((folder / "job.json").read_text())
    bag = folder / data["package"]
    result = verify_package(bag)
    assert result.bag_ok and result.exit_code == 0, result.as_dict()
    names = {p.relative_to(bag / "data").as_posix() for p in (bag / "data").rglob("*") if p.is_file()}
    assert {"master/clip.restored.mkv", "access/clip.restored.mp4", "master/clip.restored.mkv.provenance.json",
            "approval.json", "corrections.json"} <= names
    approval = json.loads((bag / "data" / "approval.json").read_text())
    assert approval["who"] == "B. Curator" and "frame by frame" in approval["note"]
    assert "B. Curator" in (bag / "bag-info.txt").read_text()
    timings["total"] = time.monotonic() - t0
    print("timings (s):", {k: round(v, 1) for k, v in timings.items()})
