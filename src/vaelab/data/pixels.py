"""Pixel conventions shared by every source: square resizing and the channel count.

Images are stored as uint8 (N, C, H, W) with C = 1 (grey) or 3 (RGB). Grey becomes RGB by
replicating the channel; RGB becomes grey with the ITU-R BT.601 luma weights
Y = 0.299 R + 0.587 G + 0.114 B, the weights Pillow's `convert("L")` uses.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

# Pillow's resize reduces by an integer factor first when the image is more than `reducing_gap`
# times the target; 3.0 is indistinguishable from a fair resample (Pillow docs, Image.resize).
REDUCING_GAP = 3.0
LUMA_WEIGHTS = (299, 587, 114)  # ITU-R BT.601, in thousandths


def fit_square(image: Image.Image, size: int) -> Image.Image:
    """Resize the shorter side to `size` and centre-crop to size x size (bicubic, antialiased).

    The crop is taken in source coordinates, so only the kept square is resampled.
    """
    width, height = image.size
    side = min(width, height)
    left, top = (width - side) / 2, (height - side) / 2
    box = (left, top, left + side, top + side)
    return image.resize((size, size), Image.Resampling.BICUBIC, box=box, reducing_gap=REDUCING_GAP)


def set_channels(images: np.ndarray, channels: int) -> np.ndarray:
    """(N, 1 or 3, H, W) uint8 -> (N, channels, H, W) uint8: replicate grey or take the BT.601 luma."""
    if images.shape[1] == channels:
        return images
    if channels == 3:
        return np.repeat(images, 3, axis=1)
    return luma(images)


def luma(images: np.ndarray) -> np.ndarray:
    """(N, 3, H, W) uint8 RGB -> (N, 1, H, W) uint8 grey, Y = (299 R + 587 G + 114 B) / 1000, rounded."""
    grey = np.zeros((images.shape[0], 1, *images.shape[2:]), dtype=np.uint8)
    for start in range(0, len(images), 4096):  # in blocks: the uint32 sum is 4x the size of the input
        block = images[start : start + 4096].astype(np.uint32)
        weighted = sum(weight * block[:, c] for c, weight in enumerate(LUMA_WEIGHTS))
        grey[start : start + 4096, 0] = (weighted + 500) // 1000
    return grey
