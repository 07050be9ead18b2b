"""The training loop of a table network: Adam on minibatches; callbacks write everything else (run.py).

The trainer owns the state a resumed run needs to continue bit for bit: the step, the network, Adam's
moments, the noise generator and the running sums of the train record being averaged. The order of the rows
in an epoch is a pure function of (seed, epoch), the learning rate and the KL weight pure functions of the
step, and each validation pass draws from its own generator seeded by (seed, step, split), so evaluating
never moves the training noise.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import torch

from vaelab.bnn.config import BNNConfig, BNNTrainingConfig
from vaelab.bnn.data import SPLITS, TableData
from vaelab.bnn.metrics import Calibration, evaluate
from vaelab.bnn.model import TableNet
from vaelab.bnn.objective import minibatch_terms
from vaelab.bnn.weighting import KLWeighting, Tempering, minibatch_index, minibatch_size, minibatches
from vaelab.errors import UsageError
from vaelab.training.stop import Interrupted, StopSignals
from vaelab.version import __version__

DEFAULT_EPOCHS = 300


def run_length(training: BNNTrainingConfig, n_train: int) -> int:
    """Optimiser steps: `training.steps`, or `training.epochs` (default 300) of M = ceil(N / B) minibatches."""
    return training.steps or (training.epochs or DEFAULT_EPOCHS) * minibatches(n_train, min(training.batch_size,
                                                                                            n_train))


def learning_rate(step: int, total: int, lr: float, schedule: str) -> float:
    """Adam's step size at `step` (from 0): constant, or cosine from lr to 0 over the run
    (Loshchilov & Hutter 2017, SGDR, eq. 5 without restarts): lr * (1 + cos(pi t / total)) / 2."""
    if schedule == "cosine":
        return lr * 0.5 * (1 + math.cos(math.pi * step / total))
    return lr


@functools.lru_cache(maxsize=2)
def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The permutation of the N training rows in `epoch`, seeded by (seed, epoch); cached, as every step of the
    epoch reads it (read-only)."""
    order = np.random.default_rng([seed, epoch]).permutation(n)
    order.flags.writeable = False
    return order


def batch_rows(step: int, n: int, batch_size: int, seed: int) -> np.ndarray:
    """The training rows of the minibatch at `step`: minibatch i of epoch step // M of a permutation seeded
    by (seed, epoch); the last minibatch of an epoch holds the remainder (weighting.minibatch_size)."""
    order = epoch_order(n, seed, step // minibatches(n, batch_size))
    start = (minibatch_index(step, n, batch_size) - 1) * batch_size
    return np.sort(order[start:start + minibatch_size(minibatch_index(step, n, batch_size), n, batch_size)])


class Callback:
    """Hooks of the loop, as in Lightning; every one gets the trainer."""

    def on_train_record(self, trainer: BNNTrainer, record: dict[str, Any]) -> None: ...

    def on_validation_end(self, trainer: BNNTrainer, record: dict[str, Any], calibration: Calibration) -> None: ...

    def on_step_end(self, trainer: BNNTrainer) -> None: ...

    def on_interrupt(self, trainer: BNNTrainer) -> None: ...

    def on_fit_end(self, trainer: BNNTrainer) -> None: ...


class BNNTrainer:
    """Trains `TableNet` on `data`'s training split, validating every `training.eval_every` steps."""

    def __init__(self, config: BNNConfig, data: TableData, *, callbacks: list[Callback] = ()):
        self.config, self.data, self.callbacks = config, data, list(callbacks)
        training = config.training
        torch.manual_seed(training.seed)  # the initial weights
        self.net = TableNet.from_config(config.model, task=data.task, in_features=len(data.features),
                                        out_features=data.out_features)
        self.weighting = KLWeighting.parse(config.objective.kl_weight)
        self.tempering = Tempering(config.objective.temperature, config.objective.tempering)
        self.x = {split: torch.from_numpy(data.x[split]) for split in SPLITS}  # (N, J) float32
        self.y = {split: torch.from_numpy(data.y[split]) for split in SPLITS}  # (N,) float32 or int64
        self.n = data.size("train")
        self.batch_size = min(training.batch_size, self.n)
        self.total_steps = run_length(training, self.n)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=training.lr)
        self.noise = torch.Generator().manual_seed(training.seed)
        self.step = 0
        self.best_score = math.inf  # the lowest validation predictive_nll so far (best.pt)
        self.window: dict[str, float] = {}  # sums of the train metrics since the last train record
        self.window_steps = 0

    @property
    def epoch(self) -> int:
        return self.step // minibatches(self.n, self.batch_size)

    def train_step(self) -> dict[str, float]:
        """One Adam step on the minibatch of `self.step`; returns its terms (objective.BNNTerms.scalars)."""
        training = self.config.training
        rows = torch.from_numpy(batch_rows(self.step, self.n, self.batch_size, training.seed))
        lam = self.weighting.weight(self.step, n=self.n, batch_size=self.batch_size)
        lr = learning_rate(self.step, self.total_steps, training.lr, training.lr_schedule)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        terms = minibatch_terms(self.net, self.x["train"][rows], self.y["train"][rows], n=self.n, kl_weight=lam,
                                tempering=self.tempering, samples=self.config.objective.train_samples,
                                generator=self.noise)
        if not torch.isfinite(terms.loss):
            raise UsageError(f"the loss is not finite at step {self.step}: lower the learning rate (--lr "
                             f"{training.lr / 10:g}); checkpoints/last.pt holds the last good state")
        self.optimizer.zero_grad(set_to_none=True)
        terms.loss.backward()
        self.optimizer.step()
        self.step += 1
        return {**terms.scalars(), "lr": lr}

    def evaluate(self, split: str) -> tuple[dict[str, Any], Calibration]:
        """The metrics of `split` ("val" or "test") at this step, with the epoch's mean KL weight."""
        seed = np.random.SeedSequence([self.config.training.seed, self.step, SPLITS.index(split)])
        generator = torch.Generator().manual_seed(int(seed.generate_state(1)[0]))
        lam = self.weighting.epoch_mean(max(self.step - 1, 0), n=self.n, batch_size=self.batch_size)
        metrics, calibration = evaluate(self.net, self.x[split], self.y[split], n_train=self.n, kl_weight=lam,
                                        tempering=self.tempering, samples=self.config.objective.test_samples,
                                        generator=generator)
        return {"step": self.step, "epoch": self.epoch, "split": split, **metrics}, calibration

    def fit(self) -> None:
        """Train to `total_steps`. SIGINT/SIGTERM stop between two steps: `on_interrupt` (run.py saves last.pt),
        then `Interrupted`."""
        training = self.config.training
        with StopSignals() as stop:
            while self.step < self.total_steps:
                for name, value in self.train_step().items():
                    self.window[name] = self.window.get(name, 0.0) + value
                self.window_steps += 1
                last = self.step == self.total_steps
                if self.step % training.log_every == 0 or last:
                    record = {"step": self.step, "epoch": self.epoch, "split": "train",
                              **{name: value / self.window_steps for name, value in self.window.items()}}
                    self.window, self.window_steps = {}, 0
                    for callback in self.callbacks:
                        callback.on_train_record(self, record)
                if self.step % training.eval_every == 0 or last:
                    record, calibration = self.evaluate("val")
                    for callback in self.callbacks:
                        callback.on_validation_end(self, record, calibration)
                for callback in self.callbacks:
                    callback.on_step_end(self)
                if stop.requested is not None and not last:
                    for callback in self.callbacks:
                        callback.on_interrupt(self)
                    raise Interrupted(stop.requested, between_steps=True)
        for callback in self.callbacks:
            callback.on_fit_end(self)

    def state_dict(self) -> dict[str, Any]:
        """Everything a resumed run needs, plus what rebuilds the network alone (config, hparams, data scale)."""
        data = self.data
        return {
            "vaelab_version": __version__, "kind": "bnn", "step": self.step, "best_score": self.best_score,
            "net": self.net.state_dict(), "optimizer": self.optimizer.state_dict(), "noise": self.noise.get_state(),
            "window": dict(self.window), "window_steps": self.window_steps, "config": self.config.to_dict(),
            "model_hparams": self.net.hparams,
            "data": {"task": data.task, "features": data.features, "target": data.target, "classes": data.classes,
                     "target_mean": data.target_mean, "target_std": data.target_std},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.noise.set_state(state["noise"])
        self.step, self.best_score = state["step"], state["best_score"]
        self.window, self.window_steps = dict(state["window"]), state["window_steps"]
