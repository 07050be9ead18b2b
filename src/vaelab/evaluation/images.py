"""The images an evaluation measures: the run's validation split, or images of another source."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from vaelab.config import Config
from vaelab.data import at_model_shape, load_images, split_indices
from vaelab.errors import UsageError
from vaelab.evaluation.overlap import overlap_with_run
from vaelab.training.batches import to_tensor


@dataclasses.dataclass
class EvaluationData:
    """The images evaluated, as floats (N, C, H, W) in [0, 1], with their labels where the data has any."""

    x: torch.Tensor
    labels: np.ndarray | None
    classes: list[str] | None
    source: str
    split: str  # "val": the run's validation images; "all": images of another source
    index: np.ndarray  # the images' indices in their source
    overlap: dict[str, int] | None = None  # another source: how many of its images the run trained or validated on


def evaluation_data(config: Config, spec: str | None, image_shape: tuple[int, int, int], max_images: int, seed: int,
                    device: torch.device) -> EvaluationData:
    """The run's validation images, or (with `spec`) images of another source at the model's size."""
    data_config = config.data
    if spec is not None:
        data_config = at_model_shape(config.data, spec, image_shape)
    data = load_images(data_config)
    if tuple(data.images.shape[1:]) != tuple(image_shape):
        raise UsageError(f"the images of {data_config.spec} are {data.images.shape[1:]}, the model takes "
                         f"{image_shape}: evaluate on data of the model's size")
    index = np.arange(len(data.images))
    split = "all"
    if spec is None:
        _, val_index = split_indices(len(data.images), config.data.val_fraction, config.data.split_seed)
        if len(val_index) >= 2:
            index, split = val_index, "val"
    if len(index) > max_images:
        index = np.sort(np.random.default_rng(seed).choice(index, size=max_images, replace=False))
    labels = None if data.labels is None else np.asarray(data.labels[index])
    x = to_tensor(data.images, index, device, channels_last=True)
    overlap = None if spec is None else overlap_with_run(config, data.images[index])
    return EvaluationData(x=x, labels=labels, classes=data.classes, source=data.source, split=split, index=index,
                          overlap=overlap)


FIT_IMAGES = 500  # training images that fit the shared sigma of the comparison (a seeded subset)


def training_subset(config: Config, image_shape: tuple[int, int, int], seed: int, device: torch.device
                    ) -> tuple[torch.Tensor, int]:
    """At most FIT_IMAGES of the run's training split (N, C, H, W) in [0, 1], a seeded subset, and how many
    training images there are: the images the shared sigma of `elbo_optimal_sigma` is fitted on, by the same
    rule for every run, apart from the validation images it then scores."""
    data = load_images(config.data)
    if tuple(data.images.shape[1:]) != tuple(image_shape):
        raise UsageError(f"the run's images of {config.data.spec} are {data.images.shape[1:]}, the model takes "
                         f"{image_shape}: the data changed since training")
    train_index, _ = split_indices(len(data.images), config.data.val_fraction, config.data.split_seed)
    index = train_index
    if len(index) > FIT_IMAGES:
        index = np.sort(np.random.default_rng(seed).choice(index, size=FIT_IMAGES, replace=False))
    return to_tensor(data.images, index, device, channels_last=True), len(train_index)
