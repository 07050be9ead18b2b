"""Headless Chromium for the tests that open pages: Debian's Chromium driven by Debian's chromedriver through
Selenium. Its console log shows errors, its performance log shows every network request the page makes.

    with chromium(profile_folder) as browser:      # a `Browser`, or pytest.skip when Chromium is not installed
        visit = browser.visit(page_or_url)
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# Not requests of the page: inline data, and the browser's own pages (its start page loads chrome:// files).
INTERNAL = ("data:", "chrome:", "chrome-untrusted:", "devtools:")


@dataclass
class PageVisit:
    """What a page did when it was opened: console errors, requests for anything but itself, its sections."""

    errors: list[str]
    requests: list[str]
    section_ids: list[str]
    broken_images: int


class Browser:
    def __init__(self, driver):
        self.driver = driver

    def visit(self, page: Path | str) -> PageVisit:
        """Open `page` (a file, or a URL), wait for it to load, and report what it did."""
        self.driver.get_log("browser")  # drop what an earlier page left
        self.driver.get_log("performance")
        url = page if isinstance(page, str) else page.resolve().as_uri()
        self.driver.get(url)
        errors = [entry["message"] for entry in self.driver.get_log("browser") if entry["level"] == "SEVERE"]
        requests = []
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message["method"] == "Network.requestWillBeSent":
                requested = message["params"]["request"]["url"]
                if requested != url and not requested.startswith(INTERNAL):
                    requests.append(requested)
        section_ids = self.driver.execute_script(
            "return Array.from(document.querySelectorAll('section[id]'), s => s.id);")
        broken = self.driver.execute_script(
            "return Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).length;")
        return PageVisit(errors=errors, requests=requests, section_ids=section_ids, broken_images=broken)

    def screenshot(self, path: Path, width: int = 1280, height: int | None = None) -> Path:
        """The page at `width` CSS pixels, whole (or its first `height` pixels)."""
        self.driver.set_window_size(width, 900)  # measure the page, not an earlier page's window
        full = self.driver.execute_script("return document.documentElement.scrollHeight;")
        self.driver.set_window_size(width, min(full, height) if height else full)
        self.driver.save_screenshot(str(path))
        return path



@contextmanager
def chromium(profile: Path):
    """A headless Chromium (its profile in `profile`) as a `Browser`; skips the test when it is not installed."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip(f"Chromium is not installed ({CHROMIUM}, {CHROMEDRIVER}): `make test` installs Debian's "
                    "chromium and chromium-driver where apt works")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--hide-scrollbars", f"--user-data-dir={profile}", "--window-size=1280,900"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    try:
        yield Browser(driver)
    finally:
        driver.quit()
