"""Seeded index selections: the train/validation split and the `--limit` subset.

Both are pure functions of their arguments (numpy's PCG64 generator seeded with data.split_seed),
so every run with the same data and seed sees the same validation images, whatever its training seed.
"""

from __future__ import annotations

import numpy as np


def split_indices(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted int64 (train, val) indices of a seeded permutation of range(n).

    val has round(n * val_fraction) images, at least 1 when val_fraction > 0 and n >= 2;
    train always keeps at least 1.
    """
    if n < 1:
        raise ValueError(f"cannot split {n} images")
    order = np.random.default_rng(seed).permutation(n).astype(np.int64)
    n_val = int(n * val_fraction + 0.5)  # rounded half up
    if val_fraction > 0 and n >= 2:
        n_val = max(n_val, 1)
    n_val = min(n_val, n - 1)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def limit_indices(n: int, limit: int, seed: int) -> np.ndarray:
    """Sorted int64 indices of the first `limit` images of a seeded permutation of range(n)."""
    order = np.random.default_rng(seed).permutation(n).astype(np.int64)
    return np.sort(order[:limit])
