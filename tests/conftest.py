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
