"""Fixtures of the report tests: a few tiny real runs (trained once per session) and a headless Chromium.

The browser is Debian's Chromium driven by Debian's chromedriver through Selenium: its console log
shows errors, its performance log shows every network request the page makes.
"""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from vaelab.config import Config, DataConfig, ModelConfig, ObjectiveConfig, TrainingConfig
from vaelab.evaluation.evaluate import evaluate_run
from vaelab.training.run import train

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# Not requests of the page: inline data, and the browser's own pages (its start page loads chrome:// files).
INTERNAL = ("data:", "chrome:", "chrome-untrusted:", "devtools:")
# The three runs of the seed's story: beta = 1, beta = 0.1 and the plain autoencoder.
RUNS = (("vae-beta1", "vae", 1.0), ("vae-beta0.1", "vae", 0.1), ("ae", "ae", 1.0))


def tiny_config(kind: str, beta: float, *, figures: bool = True) -> Config:
    """A run of a few seconds: 300 digits at 16x16, 20 steps of batch 32, latent 4, width 8."""
    return Config(
        data=DataConfig(spec="digits", image_size=16, limit=300),
        model=ModelConfig(kind=kind, latent_dim=4, width=8),
        objective=ObjectiveConfig(beta=beta),
        training=TrainingConfig(steps=20, batch_size=32, progress=False, grad_every=10, figures=figures),
    )


@pytest.fixture(scope="session")
def story(tmp_path_factory) -> Path:
    """A folder with the three runs; the beta = 0.1 run is also evaluated (eval.json, diagnostic figures)."""
    root = tmp_path_factory.mktemp("story")
    for name, kind, beta in RUNS:
        train(tiny_config(kind, beta, figures=name == "vae-beta0.1"), root / name)
    evaluate_run(root / "vae-beta0.1", iw_samples=20)
    return root


@pytest.fixture
def sweep(story, tmp_path) -> Path:
    """A sweep directory laid out as `vaelab sweep` writes it (issue 5, docs/metrics.md): SWEEP/runs/NAME/
    (ordinary run directories), summary.csv with one row per run (the grid value, then the final
    numbers; an empty cell where a run has no such number) and SWEEP/figures/."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from vaelab.evaluation.compare import plot_run_reconstructions
    from vaelab.run_dir import read_run

    root = tmp_path / "sweep"
    runs = []
    for name, _, _ in RUNS[:2]:
        shutil.copytree(story / name, root / "runs" / name)
        runs.append(read_run(root / "runs" / name))
    columns = ["run", "objective.beta", "status", "steps", "beta", "sigma", "loss", "rate", "distortion", "elbo", "mse",
               "elbo_optimal_sigma", "active_units", "aggregate_posterior_kl", "aggregate_posterior_mmd", "pixels",
               "run_dir"]
    with (root / "summary.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for run in runs:
            final, evaluation = run.final("val"), run.evaluation
            writer.writerow([run.name, run.config.objective.beta, "finished", run.steps, final["beta"], final["sigma"],
                             final["loss"], final["kl"], final["recon"], final["elbo"], final["mse"],
                             *(evaluation.get(key, "") for key in columns[11:15]), 256, f"runs/{run.name}"])
    figures = root / "figures"
    figures.mkdir()
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot([r.final("val")["kl"] for r in runs], [r.final("val")["recon"] for r in runs], "o-")
    fig.savefig(figures / "rate_distortion.png", dpi=80)
    fig.savefig(figures / "metrics_vs_beta.png", dpi=80)
    plt.close(fig)
    plot_run_reconstructions([(run.name, run.run_dir) for run in runs], figures / "reconstructions.png")
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
