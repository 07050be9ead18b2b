"""How long a run trains, and how often it validates.

A config that gives neither `training.epochs` nor `training.steps` gets a length that fits its data: 50
epochs, so that every image is seen many times, but at least MIN_STEPS optimiser steps (a few hundred
paintings are 5 batches an epoch: 50 epochs would stop long before the network has learned anything)
and at most MAX_STEPS (Fashion-MNIST's 60,000 images make 23,400 steps of 128 in 50 epochs). A wall-clock
budget (`training.time`, e.g. 10m) can end the run sooner; it is checked between steps.

Validation (with its checkpoint and, at the cadence of training/figures.py, its figures) runs at epoch ends,
every k epochs so that a run has about VALIDATIONS of them (every epoch when epochs are long), and after the
last step; `training.val_every` sets the interval in steps instead. A small folder gets its twenty: 628
paintings are 5 steps an epoch, validated every 100 steps of a 2,000-step run (not every 5). A large dataset
gets one a epoch at most, which keeps the validation pass (a tenth of the images, forward only) to a few per
cent of the training time; `--val-every` gives finer curves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from vaelab.config import TrainingConfig
from vaelab.training.batches import steps_per_epoch

DEFAULT_EPOCHS = 50
MIN_STEPS = 2_000
MAX_STEPS = 20_000
VALIDATIONS = 20


@dataclass(frozen=True)
class RunLength:
    """The run's length in optimiser steps, and why (for the start-up line)."""

    steps: int
    reason: str


def run_length(training: TrainingConfig, n_train: int) -> RunLength:
    """`training.steps`, `training.epochs` of full batches, or the default of the module docstring."""
    per_epoch = steps_per_epoch(n_train, min(training.batch_size, n_train))
    if training.steps is not None:
        return RunLength(training.steps, "--steps")
    if training.epochs is not None:
        return RunLength(training.epochs * per_epoch, f"--epochs {training.epochs} of {per_epoch} steps")
    steps = min(MAX_STEPS, max(MIN_STEPS, DEFAULT_EPOCHS * per_epoch))
    bound = {MIN_STEPS: f", raised to the floor of {MIN_STEPS} steps", MAX_STEPS: f", capped at {MAX_STEPS} steps"}
    batch = min(training.batch_size, n_train)
    reason = (f"fits the data: {DEFAULT_EPOCHS} epochs of {per_epoch} steps ({n_train} images, batch {batch})"
              f"{bound.get(steps, '')}, about {steps * batch / n_train:.0f} passes over every image; set --steps, "
              "--epochs or --time")
    return RunLength(steps, reason)


def validation_interval(training: TrainingConfig, per_epoch: int, total_steps: int) -> int:
    """Steps between validations: `training.val_every`, or the whole epochs that make about VALIDATIONS."""
    if training.val_every is not None:
        return training.val_every
    epochs = max(1, math.ceil(math.ceil(total_steps / VALIDATIONS) / per_epoch))
    return epochs * per_epoch
