"""Decoded images written out: a grid saved to a file, or the PNG bytes a web page is sent.

Images are float (N, C, H, W) in [0, 1] (tensors on any device, or arrays), as the model's outputs are; a
pixel is written as round(255 x) (8 bits, as the run's data was stored). The grid is `vaelab.viz.grid`'s:
rows of `columns` images with `pad` white pixels between.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from vaelab.errors import UsageError
from vaelab.files import atomic_write
from vaelab.viz.grid import image_grid

IMAGE_SUFFIXES = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP", ".tif": "TIFF",
                  ".tiff": "TIFF"}


def grid_picture(images: torch.Tensor | np.ndarray, columns: int | None = None, pad: int = 1) -> Image.Image:
    """The images as one Pillow picture: rows of `columns` (default: all in one row) with `pad` pixels between."""
    if len(images) == 0:
        raise UsageError("there are no images to draw")
    picture = image_grid(images, columns or len(images), pad)  # (H', W', C) in [0, 1]
    pixels = np.rint(picture * 255.0).astype(np.uint8)
    return Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels)


def save_grid(images: torch.Tensor | np.ndarray, path: str | Path, columns: int = 8, pad: int = 1) -> Path:
    """Write the images as a grid of `columns` to `path` (PNG, or JPEG, WebP, BMP, TIFF by its suffix), atomically;
    returns the path."""
    path = Path(path)
    kind = IMAGE_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise UsageError(f"cannot write an image to {path}: give a file name ending in .png (or "
                         f"{', '.join(sorted(set(IMAGE_SUFFIXES) - {'.png'}))})")
    picture = grid_picture(images, min(columns, len(images)), pad)
    atomic_write(path, lambda handle: picture.save(handle, format=kind))
    return path


def png_bytes(images: torch.Tensor | np.ndarray, columns: int | None = None, pad: int = 1) -> bytes:
    """The images as one PNG, e.g. for a web page: one image alone (no padding), or a grid."""
    buffer = io.BytesIO()
    grid_picture(images, columns, pad if len(images) > 1 else 0).save(buffer, format="PNG")
    return buffer.getvalue()
