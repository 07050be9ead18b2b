"""Fixtures of the report tests: a few tiny real runs (trained once per session) and a headless Chromium.

The browser is Debian's Chromium driven by Debian's chromedriver through Selenium: its console log
shows errors, its performance log shows every network request the page makes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from vaelab.config import Config
from vaelab.evaluation.evaluate import evaluate_run
from vaelab.sweep.grid import parse_axes
from vaelab.sweep.run import run_sweep
from vaelab.training.run import train

from factories import InProcess, tiny_config

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# Not requests of the page: inline data, and the browser's own pages (its start page loads chrome:// files).
INTERNAL = ("data:", "chrome:", "chrome-untrusted:", "devtools:")
# The three runs of the seed's story: beta = 1, beta = 0.1 and the plain autoencoder.
RUNS = (("vae-beta1", "vae", 1.0), ("vae-beta0.1", "vae", 0.1), ("ae", "ae", 1.0))


def story_config(kind: str, beta: float, *, figures: bool = True) -> Config:
    """A run of a few seconds: 300 digits at 16x16, 20 steps of batch 32, latent 4, width 8."""
    return tiny_config(20, data__limit=300, model__kind=kind, objective__beta=beta, training__grad_every=10,
                       training__figures=figures)


@pytest.fixture(scope="session")
def story(tmp_path_factory) -> Path:
    """A folder with the three runs; the two VAEs are also evaluated (eval.json; the beta = 0.1 run's with its
    diagnostic figures), the autoencoder is not."""
    root = tmp_path_factory.mktemp("story")
    for name, kind, beta in RUNS:
        train(story_config(kind, beta, figures=name == "vae-beta0.1"), root / name)
    evaluate_run(root / "vae-beta0.1", iw_samples=20)
    evaluate_run(root / "vae-beta1", iw_samples=20, write_figures=False)
    return root


@pytest.fixture(scope="session")
def sweep(tmp_path_factory) -> Path:
    """A real sweep over beta = 0, 0.1 and 1 of tiny runs (issue 5, docs/metrics.md): SWEEP/runs/NAME/,
    summary.csv, figures/ and the report, as `vaelab sweep` writes them. beta = 0 under sse has no finite
    beta = 1 ELBO (its implied sigma is 0): an empty cell."""
    root = tmp_path_factory.mktemp("sweep") / "sweep"
    base = tiny_config(15, data__limit=300, training__grad_every=5)
    run_sweep(base, parse_axes(["objective.beta=0,0.1,1"]), root, executor=InProcess(), iw_samples=2)
    return root


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

    def visit(self, page: Path) -> PageVisit:
        """Open `page`, wait for it to load, and report what it did."""
        self.driver.get_log("browser")  # drop what an earlier page left
        self.driver.get_log("performance")
        url = page.resolve().as_uri()
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


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip(f"Chromium is not installed ({CHROMIUM}, {CHROMEDRIVER}): `make test` installs Debian's "
                    "chromium and chromium-driver where apt works")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tmp_path_factory.mktemp("chromium-profile")
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
