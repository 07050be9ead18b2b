"""Augmentation of training batches: flips and crops as affine maps, by the step, and what each kind of data
gets; a request the data cannot take is one line."""

import numpy as np
import pytest
import torch

from vaelab.data.augment import (
    CROP_SCALE,
    BatchAugmentation,
    augment,
    augmentation_maps,
    augmentations,
    base_size,
    step_generator,
)
from vaelab.errors import UsageError


def test_the_identity_map_leaves_the_image_and_the_mirror_flips_it():
    x = torch.rand(2, 3, 8, 8)
    identity = torch.tensor([[1.0, 0, 0], [0, 1, 0]]).expand(2, 2, 3)
    torch.testing.assert_close(augment(x, identity, 8), x, atol=1e-6, rtol=0)
    mirror = torch.tensor([[-1.0, 0, 0], [0, 1, 0]]).expand(2, 2, 3)
    torch.testing.assert_close(augment(x, mirror, 8), x.flip(-1), atol=1e-6, rtol=0)


def test_a_crop_keeps_part_of_the_image_within_its_bounds():
    x = torch.zeros(1, 1, 16, 16)
    x[..., 8:] = 1.0  # the right half is white
    right_half = torch.tensor([[[0.5, 0, 0.5], [0, 1.0, 0]]])  # x_in = 0.5 u + 0.5: the right half, stretched
    assert augment(x, right_half, 16)[..., 1:].min() > 0.99  # (the first column samples the edge itself)
    maps = augmentation_maps(10_000, flip=True, crop=True, generator=torch.Generator().manual_seed(0))
    sx, sy = maps[:, 0, 0].abs(), maps[:, 1, 1]
    assert (sx * sy).min() >= CROP_SCALE - 1e-6 and sx.max() <= 1 and sy.max() <= 1  # at least 60% of the area
    assert ((maps[:, 0, 2].abs() + sx) <= 1 + 1e-6).all() and ((maps[:, 1, 2].abs() + sy) <= 1 + 1e-6).all()
    assert 0.48 < (maps[:, 0, 0] < 0).float().mean() < 0.52  # half the images mirrored


def test_a_step_draws_the_same_batch_every_time_and_another_step_another():
    images = np.random.default_rng(0).integers(0, 256, (20, 3, 20, 20), dtype=np.uint8)
    augmentation = BatchAugmentation(images, size=16, kinds=("flip", "crop"), device=torch.device("cpu"),
                                     channels_last=False)
    index = np.arange(8)
    first = augmentation.batch(index, seed=0, step=5)
    assert first.shape == (8, 3, 16, 16)
    torch.testing.assert_close(augmentation.batch(index, seed=0, step=5), first, rtol=0, atol=0)
    assert not torch.equal(augmentation.batch(index, seed=0, step=6), first)
    assert step_generator(0, 5, 0).initial_seed() != step_generator(0, 5, 1).initial_seed()  # each rank its own
    flips = BatchAugmentation(images, size=20, kinds=("flip",), device=torch.device("cpu"), channels_last=False)
    flipped = flips.batch(index, seed=0, step=5)
    original = torch.from_numpy(images[index]).float() / 255
    for image, result in zip(original, flipped):  # each image as it is or mirrored, exactly: no resampling
        assert torch.equal(result, image) or torch.equal(result, image.flip(-1))


def test_what_each_kind_of_data_gets_and_what_it_refuses():
    assert augmentations("auto", source_kind="folder", channels=3, image_size=64) == ("flip", "crop")
    assert augmentations("auto", source_kind="huggingface", channels=3, image_size=32) == ("flip", "crop")
    assert augmentations("auto", source_kind="fashion-mnist", channels=1, image_size=28) == ()
    assert augmentations("auto", source_kind="folder", channels=1, image_size=64) == ()
    assert augmentations("none", source_kind="folder", channels=3, image_size=64) == ()
    assert augmentations("flip", source_kind="digits", channels=3, image_size=8) == ("flip",)
    with pytest.raises(UsageError, match="on 1-channel data") as error:
        augmentations("flip,crop", source_kind="digits", channels=1, image_size=32)
    assert "\n" not in str(error.value) and "--augment none" in str(error.value)
    with pytest.raises(UsageError, match="crops of 8x8 images"):
        augmentations("crop", source_kind="folder", channels=3, image_size=8)
    assert base_size(64) == 80 and base_size(28) == 35
