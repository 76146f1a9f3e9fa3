"""Headless Chromium for the report's page tests (Debian's chromium + chromium-driver via selenium)."""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager


def _program(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name) or (f"/usr/bin/{name}" if os.path.exists(f"/usr/bin/{name}") else None)
        if found:
            return found
    return None


CHROMIUM = _program("chromium", "chromium-browser")
CHROMEDRIVER = _program("chromedriver")


def available() -> str | None:
    """None when a browser test can run, else why not."""
    if CHROMIUM is None or CHROMEDRIVER is None:
        return "Chromium or chromedriver not installed (make install installs Debian's chromium and chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium not installed (pip install selenium)"
    return None


@contextmanager
def chromium(width: int = 1280, height: int = 2400):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="restore-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
