"""Image grids for figures: (N, C, H, W) arrays in [0, 1] -> one (H', W', C) picture."""

from __future__ import annotations

import numpy as np
import torch


def as_numpy(images: torch.Tensor | np.ndarray) -> np.ndarray:
    """Float images in [0, 1] (uint8 arrays are scaled), (N, C, H, W)."""
    if isinstance(images, torch.Tensor):
        images = images.detach().float().cpu().numpy()
    if images.dtype == np.uint8:
        images = images.astype(np.float32) / 255.0
    return np.clip(images, 0.0, 1.0)


def image_row(images: torch.Tensor | np.ndarray, pad: int = 1) -> np.ndarray:
    """Side by side with `pad` white pixels between: (N, C, H, W) -> (H, N*(W+pad)-pad, C)."""
    images = as_numpy(images)
    n, c, h, w = images.shape
    row = np.ones((h, n * (w + pad) - pad, c), dtype=np.float32)
    for i, image in enumerate(images):
        row[:, i * (w + pad) : i * (w + pad) + w] = image.transpose(1, 2, 0)
    return row


def image_grid(images: torch.Tensor | np.ndarray, columns: int, pad: int = 1) -> np.ndarray:
    """Rows of `columns` images: (N, C, H, W) -> (rows*(H+pad)-pad, columns*(W+pad)-pad, C)."""
    images = as_numpy(images)
    rows = [image_row(images[i : i + columns], pad) for i in range(0, len(images), columns)]
    width = rows[0].shape[1]
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=1.0) for r in rows]
    spacer = np.ones((pad, width, rows[0].shape[2]), dtype=np.float32)
    return np.concatenate([part for r in rows for part in (r, spacer)][:-1], axis=0)


def show(ax, picture: np.ndarray) -> None:
    """Draw a grid on a matplotlib axis, grey images in grey."""
    if picture.shape[2] == 1:
        ax.imshow(picture[:, :, 0], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    else:
        ax.imshow(picture, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
