"""Fixtures of the report tests: a few tiny real runs (trained once per session) and a headless Chromium
(tests/browser.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vaelab.config import Config
from vaelab.evaluation.evaluate import evaluate_run
from vaelab.sweep.grid import parse_axes
from vaelab.sweep.run import run_sweep
from vaelab.training.run import train

from browser import chromium
from factories import InProcess, tiny_config

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


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as opened:
        yield opened
