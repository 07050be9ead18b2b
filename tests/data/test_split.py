"""Seeded selections: the train/validation split and --limit."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from vaelab.data import load_images, split_indices


@given(n=st.integers(1, 500), val_fraction=st.floats(0, 0.99), seed=st.integers(0, 2**32 - 1))
def test_split_is_a_deterministic_partition(n, val_fraction, seed):
    train, val = split_indices(n, val_fraction, seed)
    again = split_indices(n, val_fraction, seed)
    assert np.array_equal(train, again[0]) and np.array_equal(val, again[1])
    assert train.dtype == val.dtype == np.int64
    assert np.array_equal(np.sort(np.concatenate([train, val])), np.arange(n))  # disjoint, complete
    assert np.all(np.diff(train) > 0) and np.all(np.diff(val) > 0)  # sorted
    assert len(train) >= 1
    if val_fraction > 0 and n >= 2:
        assert len(val) >= 1


def test_split_sizes_and_seeds():
    train, val = split_indices(1000, 0.1, seed=0)
    assert (len(train), len(val)) == (900, 100)
    assert not np.array_equal(val, split_indices(1000, 0.1, seed=1)[1])
    assert split_indices(10, 0.0, seed=0)[1].size == 0
    assert [len(part) for part in split_indices(2, 0.01, seed=0)] == [1, 1]
    assert [len(part) for part in split_indices(1, 0.5, seed=0)] == [1, 0]


def test_limit_keeps_a_seeded_subset(data_config):
    full = load_images(data_config("digits"))
    limited = load_images(data_config("digits", limit=50))
    assert limited.images.shape == (50, 1, 32, 32) and len(limited.names) == len(limited.labels) == 50
    index = [full.names.index(name) for name in limited.names]
    assert np.array_equal(limited.images, full.images[index]) and np.array_equal(limited.labels, full.labels[index])
    assert limited.names == load_images(data_config("digits", limit=50)).names
    assert limited.names != load_images(data_config("digits", limit=50, split_seed=1)).names
    assert load_images(data_config("digits", limit=5000)).images.shape[0] == 1797
