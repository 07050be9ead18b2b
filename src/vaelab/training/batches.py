"""Batches cut by index from the cached uint8 array: no per-sample Python in the hot loop.

The order of an epoch is a pure function of (seed, epoch), so a resumed run sees exactly the
batches an uninterrupted one would have seen.
"""

from __future__ import annotations

import numpy as np
import torch

from vaelab.data.cache import read_rows


def epoch_order(indices: np.ndarray, seed: int, epoch: int) -> np.ndarray:
    """A permutation of `indices` for this epoch, the same on every call."""
    return np.random.default_rng([seed, epoch]).permutation(indices)


def steps_per_epoch(n: int, batch_size: int) -> int:
    """Full batches per epoch (the last partial batch is dropped, unless there is only one)."""
    return max(1, n // batch_size)


def batch_indices(order: np.ndarray, batch: int, batch_size: int) -> np.ndarray:
    """The sorted indices of batch number `batch` of an epoch (sorted reads are faster from a memmap)."""
    return np.sort(order[batch * batch_size : (batch + 1) * batch_size])


def to_tensor(images: np.ndarray, index: np.ndarray, device: torch.device, channels_last: bool = False) -> torch.Tensor:
    """uint8 (N, C, H, W) rows at `index` -> float (B, C, H, W) in [0, 1] on `device` (read as `read_rows` does)."""
    batch = torch.from_numpy(read_rows(images, index)).to(device, non_blocking=True)
    batch = batch.float().div_(255.0)
    return batch.contiguous(memory_format=torch.channels_last) if channels_last else batch
