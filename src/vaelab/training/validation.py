"""Validation: the mean loss terms over a set of images, the one pass that training and evaluation share.

`validate` scores exactly the images at `index` (the run's validation split, by the caller's choice) with
the posterior sampled under a fixed seed, so that every pass of a run is comparable with the others and
an evaluation's record with the one the run logged; a loss-conditional model is scored at the config's
beta. It runs the model in eval mode and leaves it, and the objective, in the mode they were in.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch
from torch import nn

from vaelab.config import Config
from vaelab.model import at_beta
from vaelab.objectives import Objective
from vaelab.objectives.terms import as_floats
from vaelab.training.batches import to_tensor


def autocast(config: Config, device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast under `training.amp`, else nothing."""
    if config.training.amp:
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def validation_seed(config: Config) -> int:
    """The seed of every validation pass's posterior samples (apart from the training noise's)."""
    return config.training.seed + 1


def validation_index(train_index: np.ndarray, val_index: np.ndarray, batch_size: int) -> np.ndarray:
    """The images a run validates on: its validation split, or with none (val_fraction = 0) its first
    training batch."""
    return val_index if len(val_index) else train_index[:batch_size]


def validate(model: nn.Module, objective: Objective, images: np.ndarray, index: np.ndarray, *, config: Config,
             step: int, device: torch.device, batch_size: int) -> dict[str, float]:
    """The mean loss terms (metrics.jsonl's names) over the images `images[index]`, uint8 (N, C, H, W)."""
    sums = validation_sums(model, objective, images, index, config=config, step=step, device=device,
                           batch_size=batch_size)
    return {name: total / len(index) for name, total in sums.items()}


@torch.no_grad()
def validation_sums(model: nn.Module, objective: Objective, images: np.ndarray, index: np.ndarray, *,
                    config: Config, step: int, device: torch.device, batch_size: int) -> dict[str, float]:
    """The loss terms summed over the images `images[index]` (a data-parallel run adds the processes' sums
    before dividing).

    Images go through in chunks of 2 * `batch_size` (the training batch in force), so that a pass draws
    the same noise in the same order whoever calls it.
    """
    was_training = model.training, objective.training
    model.eval()
    objective.eval()
    generator = torch.Generator(device=device).manual_seed(validation_seed(config))
    served = at_beta(model, config.objective.beta)  # a loss-conditional model at its validation beta
    sums: dict[str, float | torch.Tensor] = {}
    chunk = 2 * batch_size
    try:
        for start in range(0, len(index), chunk):
            x = to_tensor(images, index[start : start + chunk], device, config.training.channels_last)
            with autocast(config, device):
                terms = objective(x, served(x, generator=generator), step)
            for name, value in terms.metric_values().items():
                sums[name] = sums.get(name, 0.0) + value * len(x)
    finally:
        model.train(was_training[0])
        objective.train(was_training[1])
    return as_floats(sums)
