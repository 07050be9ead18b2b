"""scikit-learn's 8x8 digits, scaled to 0..255 and upscaled."""

from __future__ import annotations

import numpy as np

from vaelab.data import load_images


def test_digits_default_to_grey_32x32_with_labels(data_config):
    data = load_images(data_config("digits"))
    assert data.images.shape == (1797, 1, 32, 32) and data.images.dtype == np.uint8
    assert data.labels.dtype == np.int64 and sorted(set(data.labels.tolist())) == list(range(10))
    assert data.classes == [str(d) for d in range(10)] and data.names[5] == "digits/5"
    assert data.images.max() == 255 and data.images.min() == 0


def test_digits_at_another_size_in_rgb(data_config):
    data = load_images(data_config("digits", image_size=28, channels=3))
    assert data.images.shape == (1797, 3, 28, 28)
    assert (data.images[:, 0] == data.images[:, 2]).all()
