"""Images from the user, in any of the usual forms, made into the network's input exactly as the run's data was.

Accepted, one image or a list of them:
- a file path, or a file's bytes: decoded by the data pipeline itself (`vaelab.data.decode.decode_file`: EXIF
  orientation, 16-bit and transparency rules, shorter side resized and the centre square kept);
- a Pillow image: the same conventions from EXIF orientation on (`decode.square_rgb`);
- a uint8 array or tensor, 0..255: (H, W) grey, one image (C, H, W) or (H, W, C), or a batch (N, C, H, W) or
  (N, H, W, C); the channel axis is the first (after N) when it has 1, 3 or 4 entries, else the last (1, 3 or
  4; RGBA is composited on white). It goes through Pillow as a decoded file would (at the network's shape that
  changes nothing, and it is divided by 255 directly);
- a float array or tensor with values in [0, 1], in the same layouts: used as it is when it already has the
  network's shape (C, H, W), as the model's outputs do; otherwise rounded to 8 bits, as the cached data was,
  and prepared like a uint8 one.

The channels become the network's: grey replicated to RGB, RGB to grey by the BT.601 luma (`pixels.set_channels`).
The result is float32 (N, C, H, W) in [0, 1] on the CPU.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image

from vaelab.data.decode import Decoded, decode_bytes, decode_file, square_rgb
from vaelab.data.pixels import set_channels
from vaelab.errors import UsageError

FILE_KINDS = "JPEG, PNG, WebP, BMP, TIFF or GIF"


def as_images(images: Any, image_shape: tuple[int, int, int]) -> torch.Tensor:
    """`images` (see the module's docstring) as the network's input (N, C, H, W) float32 in [0, 1]."""
    if isinstance(images, (str, os.PathLike, Image.Image)):
        return _stack([_one(images, image_shape)])
    if isinstance(images, bytes):
        return image_bytes(images, image_shape)
    if isinstance(images, (np.ndarray, torch.Tensor)):
        return _array(images, image_shape)
    if isinstance(images, Sequence) and images:
        return torch.cat([as_images(image, image_shape) for image in images])
    raise UsageError(f"cannot use {type(images).__name__} as images: give file paths, Pillow images, uint8 or float "
                     "arrays or tensors, or a non-empty list of them")


def image_bytes(data: bytes, image_shape: tuple[int, int, int], name: str = "the image file") -> torch.Tensor:
    """The bytes of an image file (`name` says which, in the message if it cannot be decoded) -> (1, C, H, W)."""
    return _stack([_channels(_decoded(decode_bytes(data, image_shape[1]), name), image_shape)])


def _one(image: str | os.PathLike | Image.Image, image_shape: tuple[int, int, int]) -> np.ndarray:
    """One path or Pillow image -> (C, S, S) uint8."""
    if isinstance(image, Image.Image):
        return _channels(square_rgb(image, image_shape[1]), image_shape)
    return _channels(_decoded(decode_file(os.fspath(image), image_shape[1]), image), image_shape)


def _decoded(decoded: Decoded, name: object) -> np.ndarray:
    if decoded.problem is not None:
        raise UsageError(f"{name} cannot be used: {decoded.problem}: give a {FILE_KINDS} file")
    return decoded.pixels


def _channels(pixels: np.ndarray, image_shape: tuple[int, int, int]) -> np.ndarray:
    """(S, S, 3) uint8 RGB -> (C, S, S) with the network's channels."""
    return set_channels(pixels.transpose(2, 0, 1)[None], image_shape[0])[0]


def _stack(pixels: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(pixels)).float().div_(255.0)


def _array(values: np.ndarray | torch.Tensor, image_shape: tuple[int, int, int]) -> torch.Tensor:
    """A uint8 or float array or tensor of one image or a batch -> (N, C, H, W) float32."""
    array = values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)
    if array.ndim == 2:
        array = array[None, None]  # (H, W) -> (1, 1, H, W)
    elif array.ndim == 3:
        array = array[None]
    elif array.ndim != 4:
        raise UsageError(f"an image array has 2 to 4 axes, (H, W), (C, H, W) or (N, C, H, W); this one has "
                         f"{array.shape}")
    if array.shape[1] not in (1, 3, 4):
        if array.shape[3] not in (1, 3, 4):
            raise UsageError(f"cannot tell the channels of an image array of shape {tuple(values.shape)}: give "
                             "(C, H, W) or (H, W, C) with 1, 3 or 4 (RGBA) channels")
        array = array.transpose(0, 3, 1, 2)  # (N, H, W, C) -> (N, C, H, W)
    if np.issubdtype(array.dtype, np.floating):
        finite = bool(np.isfinite(array).all())
        if not (finite and array.min() >= 0 and array.max() <= 1):
            span = f"span {array.min():g} to {array.max():g}" if finite else "hold nan or infinity"
            raise UsageError(f"float images must lie in [0, 1] (these {span}): divide 0..255 values by 255, or give "
                             "them as uint8")
        if tuple(array.shape[1:]) == tuple(image_shape):
            return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
        array = np.rint(array * 255.0).astype(np.uint8)
    elif array.dtype != np.uint8:
        raise UsageError(f"integer images must be uint8 (0..255), not {array.dtype}; floats must lie in [0, 1]")
    elif tuple(array.shape[1:]) == tuple(image_shape):  # what Pillow would give: no resize, the same channels
        return torch.from_numpy(np.ascontiguousarray(array)).float().div_(255.0)
    return _stack([_through_pillow(image, image_shape) for image in array])


def _through_pillow(image: np.ndarray, image_shape: tuple[int, int, int]) -> np.ndarray:
    """One uint8 (C, H, W) image prepared as a decoded file is -> (C, S, S) uint8."""
    pixels = image.transpose(1, 2, 0)  # (H, W, C)
    # Pillow reads (H, W) uint8 as mode L, (H, W, 3) as RGB and (H, W, 4) as RGBA
    return _one(Image.fromarray(np.ascontiguousarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels)), image_shape)
