"""The training loop: Adam on the objective, one batch at a time; callbacks do everything else.

The loop owns the state that a resumed run needs to continue exactly (DESIGN.md): the step, the
optimiser, the objective's state (a learned sigma, GECO's multiplier) and the noise generator.
Batch order is a pure function of (seed, epoch), see `batches.py`.
"""

from __future__ import annotations

import contextlib
import math
import signal
from typing import Any

import numpy as np
import torch

from vaelab import __version__
from vaelab.config import Config, TrainingConfig
from vaelab.model import ConvVAE
from vaelab.objectives import LossTerms, Objective
from vaelab.training.batches import batch_indices, epoch_order, steps_per_epoch, to_tensor
from vaelab.training.callbacks import Callback
from vaelab.training.device import keep_freed_memory


def run_length(training: TrainingConfig, n_train: int) -> int:
    """Optimiser steps in the run: `training.steps`, or `training.epochs` (default 10) of full batches."""
    return training.steps or (training.epochs or 10) * steps_per_epoch(n_train, min(training.batch_size, n_train))


class Trainer:
    """Trains `model` on `images[train_index]` with `objective`, validating on `images[val_index]` each epoch."""

    def __init__(
        self,
        *,
        config: Config,
        model: ConvVAE,
        objective: Objective,
        images: np.ndarray,
        train_index: np.ndarray,
        val_index: np.ndarray,
        device: torch.device,
        callbacks: list[Callback],
    ):
        self.config = config
        self.model = model
        self.objective = objective
        self.images = images
        self.train_index = train_index
        self.val_index = val_index
        self.device = device
        self.callbacks = callbacks
        training = config.training
        self.batch_size = min(training.batch_size, len(train_index))
        self.steps_per_epoch = steps_per_epoch(len(train_index), self.batch_size)
        self.total_steps = run_length(training, len(train_index))
        params = [*model.parameters(), *objective.parameters()]
        if device.type == "cpu":
            keep_freed_memory()  # no page faults on every step's buffers: see its docstring
        fused = device.type in ("cuda", "cpu")
        self.optimizer = torch.optim.Adam(params, lr=training.lr, fused=fused)
        self.noise = torch.Generator(device=device).manual_seed(training.seed)
        self.step = 0
        self.best_score = -math.inf
        self.val_metrics: dict[str, float] | None = None

    @property
    def epoch(self) -> int:
        """Epochs completed or under way, counted from 0."""
        return self.step // self.steps_per_epoch

    @property
    def lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.config.training.amp:
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def batch(self, index: np.ndarray) -> torch.Tensor:
        return to_tensor(self.images, index, self.device, self.config.training.channels_last)

    def training_step(self, x: torch.Tensor) -> LossTerms:
        with self.autocast():
            output = self.model(x, generator=self.noise)
            terms = self.objective(x, output, self.step)
        self.optimizer.zero_grad(set_to_none=True)
        terms.loss.backward()
        self.optimizer.step()
        return terms

    def fit(self) -> None:
        """Train until `total_steps`; on Ctrl-C or SIGTERM save `last.pt` and re-raise KeyboardInterrupt."""
        self.model.train()
        self.objective.train()
        self._emit("on_fit_start")
        previous = _raise_on_sigterm()
        try:
            while self.step < self.total_steps:
                epoch = self.epoch
                order = epoch_order(self.train_index, self.config.training.seed, epoch)
                first = self.step - epoch * self.steps_per_epoch
                for b in range(first, self.steps_per_epoch):
                    terms = self.training_step(self.batch(batch_indices(order, b, self.batch_size)))
                    self.step += 1
                    self._emit("on_train_batch_end", terms)
                    if self.step >= self.total_steps:
                        break
                self.val_metrics = self.validate()
                self._emit("on_validation_end", self.val_metrics)
                self._emit("on_train_epoch_end")
        except KeyboardInterrupt:
            self._emit("on_interrupt")
            raise
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
        self._emit("on_fit_end")

    @torch.no_grad()
    def validate(self, index: np.ndarray | None = None) -> dict[str, float]:
        """Mean metrics over the validation set, with a fixed noise seed so that every pass is comparable."""
        index = self.val_index if index is None else index
        if len(index) == 0:
            index = self.train_index[: self.batch_size]
        was_training = self.model.training
        self.model.eval()
        self.objective.eval()
        generator = torch.Generator(device=self.device).manual_seed(self.config.training.seed + 1)
        sums: dict[str, float] = {}
        for start in range(0, len(index), 2 * self.batch_size):
            x = self.batch(index[start : start + 2 * self.batch_size])
            with self.autocast():
                terms = self.objective(x, self.model(x, generator=generator), self.step)
            for name, value in terms.metrics().items():
                sums[name] = sums.get(name, 0.0) + value * len(x)
        self.model.train(was_training)
        self.objective.train(was_training)
        return {name: total / len(index) for name, total in sums.items()}

    def state_dict(self) -> dict[str, Any]:
        return {
            "vaelab_version": __version__,
            "config": self.config.to_dict(),
            "model_hparams": self.model.hparams,
            "model": self.model.state_dict(),
            "objective": self.objective.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "step": self.step,
            "best_score": self.best_score,
            "noise": self.noise.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.objective.load_state_dict(state["objective"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step = state["step"]
        self.best_score = state["best_score"]
        self.noise.set_state(state["noise"].cpu())

    def _emit(self, hook: str, *args: Any) -> None:
        for callback in self.callbacks:
            getattr(callback, hook)(self, *args)


def _raise_on_sigterm():
    """Treat SIGTERM like Ctrl-C so a killed job still saves its checkpoint (main thread only)."""

    def handler(signum, frame):
        raise KeyboardInterrupt

    try:
        return signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        return None
