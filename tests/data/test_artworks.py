"""The real paintings in ../shared/data/artworks: 698 JPEGs in one folder per artist."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vaelab.data import load_images

ARTWORKS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "artworks"


@pytest.mark.skipif(not ARTWORKS.is_dir(), reason=f"{ARTWORKS} is not on this machine")
def test_the_artworks_folder(data_config):
    data = load_images(data_config(ARTWORKS))
    artists = sorted(path.name for path in ARTWORKS.iterdir() if path.is_dir())
    assert data.images.shape == (698, 3, 64, 64) and isinstance(data.images, np.memmap)
    assert data.skipped == [] and data.classes == artists
    assert len(np.unique(data.labels)) == len(artists)
    assert data.images.std() > 20, "real pictures, not blank squares"
