"""Augmentation of training batches: horizontal flips and random resized crops, on the device, by the step.

    data.augment = auto | none | flip | crop | flip,crop      (auto: flip,crop for folders and Hugging Face
                                                              images, none for fashion-mnist and digits)

A crop keeps a random part of the image, of area s in [CROP_SCALE, 1] of the whole and aspect ratio r with
log r uniform in [log 3/4, log 4/3] (Szegedy et al. 2015's random-sized crop, with the smaller scales left
out: the model must still reconstruct what it sees), anywhere in the image, and resamples it to the
training size; a flip mirrors the image left to right with probability 1/2. Crops are cut from the images
cached at CROP_BASE times the training size (80 x 80 for 64 x 64 training: 1.56 times the memory of the
training-size cache, 19 KB per colour image), so that even the smallest crop is resampled from about as
many pixels as it will have. Every sample's crop and flip are drawn together, as one affine map per image
(`affine_grid` + bilinear `grid_sample`), with no Python loop over the batch; the draws come from a
generator seeded by (seed, step, rank), so a resumed run sees the same augmented batches.

Only training batches are augmented: validation, evaluation and every figure of validation images use
the cached images as they are.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch
import torch.nn.functional as F

from vaelab.config import DataConfig
from vaelab.data import load_images
from vaelab.data.cache import read_rows
from vaelab.data.image_data import ImageData
from vaelab.data.sources import source_kind
from vaelab.errors import UsageError

AUGMENTATIONS = ("flip", "crop")
CROP_SCALE = 0.6  # the smallest share of the image's area a crop keeps
CROP_ASPECT = (3 / 4, 4 / 3)
CROP_BASE = 1.25  # the cache the crops are cut from, relative to the training size
MIN_CROP_SIZE = 16  # images smaller than this are not cropped: a few pixels more or less is another picture


def augmentations(setting: str, *, source_kind: str, channels: int, image_size: int) -> tuple[str, ...]:
    """What `data.augment` asks for, for this data: `auto` is flip and crop for colour images of a folder or a
    Hugging Face dataset of at least MIN_CROP_SIZE pixels, nothing otherwise; an explicit request that the
    data cannot take is a one-line `UsageError`."""
    if setting == "auto":
        photographs = source_kind in ("folder", "huggingface") and channels == 3 and image_size >= MIN_CROP_SIZE
        return AUGMENTATIONS if photographs else ()
    kinds = () if setting == "none" else tuple(part.strip() for part in setting.split(","))
    if kinds and channels == 1:
        raise UsageError(f"data.augment={setting} is for colour pictures, whose flips and crops are pictures of the "
                         "same kind; on 1-channel data (digits, clothes, scans) a flipped or cropped image is often "
                         "another class: use --augment none (or --channels 3 for colour images)")
    if "crop" in kinds and image_size < MIN_CROP_SIZE:
        raise UsageError(f"data.augment={setting}: crops of {image_size}x{image_size} images lose most of them; "
                         f"crop images of at least {MIN_CROP_SIZE} pixels, or use --augment flip")
    return kinds


def base_size(image_size: int) -> int:
    """The side of the images crops are cut from: ceil(CROP_BASE * image_size)."""
    return math.ceil(CROP_BASE * image_size)


def step_generator(seed: int, step: int, rank: int) -> torch.Generator:
    """A CPU generator seeded by (seed, step, rank): the augmentation of a step is a pure function of them."""
    return torch.Generator().manual_seed(int(np.random.SeedSequence([seed, step, rank]).generate_state(1)[0]))


def augmentation_maps(n: int, *, flip: bool, crop: bool, generator: torch.Generator) -> torch.Tensor:
    """n affine maps (n, 2, 3) from output to input coordinates in [-1, 1] (`F.affine_grid`'s convention):
    scale (sx, sy) = the crop's size in the image's, shift = its centre, sx negated to mirror."""
    sx = torch.ones(n)
    sy = torch.ones(n)
    if crop:
        area = CROP_SCALE + (1 - CROP_SCALE) * torch.rand(n, generator=generator)
        log_low, log_high = math.log(CROP_ASPECT[0]), math.log(CROP_ASPECT[1])
        aspect = torch.exp(log_low + (log_high - log_low) * torch.rand(n, generator=generator))  # width / height
        sx = torch.sqrt(area * aspect).clamp(max=1.0)
        sy = torch.sqrt(area / aspect).clamp(max=1.0)
    tx = (1 - sx) * (2 * torch.rand(n, generator=generator) - 1) if crop else torch.zeros(n)
    ty = (1 - sy) * (2 * torch.rand(n, generator=generator) - 1) if crop else torch.zeros(n)
    mirror = torch.rand(n, generator=generator) < 0.5 if flip else torch.zeros(n, dtype=torch.bool)
    maps = torch.zeros(n, 2, 3)
    maps[:, 0, 0] = torch.where(mirror, -sx, sx)
    maps[:, 0, 2] = tx
    maps[:, 1, 1] = sy
    maps[:, 1, 2] = ty
    return maps


def augment(x: torch.Tensor, maps: torch.Tensor, size: int) -> torch.Tensor:
    """x (B, C, H, W) resampled through `maps` (B, 2, 3) to (B, C, size, size), bilinear."""
    grid = F.affine_grid(maps.to(x.device, x.dtype), [len(x), x.shape[1], size, size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def training_augmentation(config: DataConfig, data: ImageData, *, device: torch.device, channels_last: bool
                          ) -> BatchAugmentation | None:
    """The augmentation `config.augment` asks for on `data` (the run's training-size images), with the larger
    cache its crops are cut from; None when the run trains on its images as they are."""
    kinds = augmentations(config.augment, source_kind=source_kind(config.spec), channels=data.channels,
                          image_size=data.image_size)
    if not kinds:
        return None
    images = data.images
    if "crop" in kinds:
        base = load_images(dataclasses.replace(config, image_size=base_size(data.image_size), channels=data.channels))
        if base.names != data.names:
            raise RuntimeError(f"the {base_size(data.image_size)}-pixel cache of {config.spec} holds other images "
                               "than its training-size cache")
        images = base.images
    return BatchAugmentation(images, size=data.image_size, kinds=kinds, device=device, channels_last=channels_last)


class BatchAugmentation:
    """The augmented training batches of a run: the images at `index` of `images` (the training-size cache,
    or with crops the larger one), augmented and resampled to `size` on `device`."""

    def __init__(self, images: np.ndarray, *, size: int, kinds: tuple[str, ...], device: torch.device,
                 channels_last: bool):
        self.images = images
        self.size = size
        self.flip = "flip" in kinds
        self.crop = "crop" in kinds
        self.device = device
        self.channels_last = channels_last

    def batch(self, index: np.ndarray, *, seed: int, step: int, rank: int = 0) -> torch.Tensor:
        x = torch.from_numpy(read_rows(self.images, index)).to(self.device).float().div_(255.0)  # (B, C, H', W')
        maps = augmentation_maps(len(x), flip=self.flip, crop=self.crop, generator=step_generator(seed, step, rank))
        if self.crop or x.shape[-1] != self.size:
            x = augment(x, maps, self.size)
        else:  # flips alone: exact, no resampling
            x = torch.where((maps[:, 0, 0] < 0).to(x.device)[:, None, None, None], x.flip(-1), x)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x
