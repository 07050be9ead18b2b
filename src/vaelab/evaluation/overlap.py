"""Whether the images of an evaluation on another source (`vaelab evaluate RUN --data SPEC`) are images the run
trained on: each image's pixels at the model's size (uint8, as the cache holds them) hashed and looked up among
the run's training and validation images. An image found there is the same picture, decoded and resized the same
way; a re-encoded or re-cropped copy of it is not found (the count is a lower bound on what the run has seen)."""

from __future__ import annotations

import hashlib

import numpy as np

from vaelab.config import Config
from vaelab.data import load_images, split_indices


def image_digests(images: np.ndarray) -> list[bytes]:
    """A 16-byte BLAKE2b digest of each image's pixels, (N, C, H, W) uint8 -> N digests."""
    return [hashlib.blake2b(np.ascontiguousarray(image).tobytes(), digest_size=16).digest() for image in images]


def overlap_with_run(config: Config, evaluated: np.ndarray) -> dict[str, int]:
    """{"overlap_train": how many of the `evaluated` images (uint8 (N, C, H, W), the model's size) are pixel for
    pixel images of the run's training split, "overlap_val": of its validation split} (the run's data, limit and
    split, as training drew them)."""
    data = load_images(config.data)
    train_index, val_index = split_indices(len(data.images), config.data.val_fraction, config.data.split_seed)
    train, val = set(image_digests(data.images[train_index])), set(image_digests(data.images[val_index]))
    digests = image_digests(evaluated)
    return {"overlap_train": sum(digest in train for digest in digests),
            "overlap_val": sum(digest in val for digest in digests)}


def overlap_warning(overlap: dict[str, int], images: int) -> str | None:
    """The line eval.json's warnings carry when evaluated images are training images; None when none is."""
    if not overlap["overlap_train"]:
        return None
    return (f"{overlap['overlap_train']} of the {images} images evaluated are images of the run's training split "
            "(the same pixels at the model's size): these numbers are not held out; the run's own evaluation "
            "(vaelab evaluate RUN, without --data) scores its validation images")
