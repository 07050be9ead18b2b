"""Fashion-MNIST (Xiao, Rasul & Vollgraf 2017) from its IDX files: the 60,000 training images.

The files are train-images-idx3-ubyte and train-labels-idx1-ubyte, gzipped (.gz) or not, looked
for in data.data_root (only there when it is given), else in $VAELAB_DATA, else in
/usr/share/datasets/fashion-mnist (Debian's `dataset-fashion-mnist`); in each place directly or
in a `fashion-mnist/` sub-folder. The validation set is cut from the training images by
`split_indices`; the t10k test files are not used.

IDX format (LeCun et al., http://yann.lecun.com/exdb/mnist/): two zero bytes, a type byte (0x08
for unsigned bytes), the number of dimensions, each dimension as a big-endian uint32, then the data.
"""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
from PIL import Image

from vaelab.data.image_data import ImageData
from vaelab.data.pixels import set_channels
from vaelab.errors import UsageError

SYSTEM_FOLDER = "/usr/share/datasets/fashion-mnist"
IMAGES_FILE = "train-images-idx3-ubyte"
LABELS_FILE = "train-labels-idx1-ubyte"
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
HOW_TO_GET = (
    "install them with `apt-get install dataset-fashion-mnist`, or download "
    f"{IMAGES_FILE}.gz and {LABELS_FILE}.gz into a folder and pass --data-root FOLDER"
)


def find_files(data_root: str | None) -> tuple[Path, Path]:
    """The (images, labels) IDX files, from data_root, else $VAELAB_DATA, else the system folder."""
    places = [data_root] if data_root else [os.environ.get("VAELAB_DATA"), SYSTEM_FOLDER]
    for place in filter(None, places):
        for folder in (Path(place).expanduser(), Path(place).expanduser() / "fashion-mnist"):
            images, labels = _find(folder, IMAGES_FILE), _find(folder, LABELS_FILE)
            if images and labels:
                return images, labels
    looked = ", ".join(str(place) for place in filter(None, places))
    raise UsageError(
        f"fashion-mnist's training files are not in {looked} (nor in a fashion-mnist/ folder there): {HOW_TO_GET}"
    )


def load_fashion_mnist(images_file: Path, labels_file: Path, size: int, channels: int | None) -> ImageData:
    """The training set as (60000, C, size, size) uint8; grey, replicated when channels == 3."""
    images = read_idx(images_file, ndim=3)  # (N, 28, 28)
    labels = read_idx(labels_file, ndim=1)  # (N,)
    if len(images) != len(labels):
        raise UsageError(
            f"{images_file} holds {len(images)} images but {labels_file} {len(labels)} labels: "
            f"use files from the same download ({HOW_TO_GET})"
        )
    if images.shape[1:] != (size, size):
        images = np.stack([np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.BICUBIC))
                           for image in images])
    return ImageData(
        images=set_channels(images[:, None], channels or 1),  # (N, C, S, S)
        labels=labels.astype(np.int64),
        names=[f"fashion-mnist/train/{i}" for i in range(len(images))],
        skipped=[],
        classes=CLASSES,
        source=f"fashion-mnist ({len(images)} training images from {images_file.parent})",
    )


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """An IDX file of unsigned bytes with `ndim` dimensions, gzipped or not, as a uint8 array."""
    try:
        with (gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")) as file:
            raw = file.read()
        zeros, kind, dims = struct.unpack_from(">HBB", raw)
        if zeros != 0 or kind != 0x08 or dims != ndim:
            raise ValueError(f"header says type {kind:#04x} with {dims} dimensions, expected 0x08 with {ndim}")
        shape = struct.unpack_from(f">{ndim}I", raw, 4)
        return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)
    except (OSError, EOFError, ValueError, struct.error) as error:
        raise UsageError(f"{path} is not a valid IDX file ({error}): download it again ({HOW_TO_GET})") from None


def _find(folder: Path, name: str) -> Path | None:
    for candidate in (folder / f"{name}.gz", folder / name):
        if candidate.is_file():
            return candidate
    return None
