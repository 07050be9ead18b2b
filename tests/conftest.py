"""Shared fixtures: every test gets its own data cache, and the real data's locations."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTWORKS = ROOT.parent / "shared" / "data" / "artworks"


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    """Each test session writes decoded datasets to a temporary cache, never to ~/.cache."""
    monkeypatch.setenv("VAELAB_CACHE", str(tmp_path_factory.getbasetemp() / "vaelab-cache"))


@pytest.fixture
def artworks() -> Path:
    if not ARTWORKS.is_dir():
        pytest.skip(f"the paintings are not at {ARTWORKS}")
    return ARTWORKS


@pytest.fixture(scope="session")
def trained_vae(tmp_path_factory) -> Path:
    """A tiny trained VAE on digits (16x16 grey, latent 4): the runs that are used, not studied (issue 14)."""
    from vaelab.training.run import train

    from factories import tiny_config

    return train(tiny_config(20, data__limit=300), tmp_path_factory.mktemp("trained") / "vae").run_dir


@pytest.fixture(scope="session")
def trained_conditional(tmp_path_factory) -> Path:
    """The same, loss-conditional: one network for every beta in [0.01, 10], validated at beta = 1."""
    from vaelab.training.run import train

    from factories import tiny_config

    config = tiny_config(20, data__limit=300, objective__beta_range=[0.01, 10.0])
    return train(config, tmp_path_factory.mktemp("trained") / "conditional").run_dir
