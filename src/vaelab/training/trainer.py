"""The training loop: AdamW on the objective, one batch at a time; callbacks do everything else.

The loop owns the state that a resumed run needs to continue exactly (DESIGN.md): the step, the
optimiser, the moving average of the weights, the objective's state (a learned sigma, GECO's multiplier)
and the noise generator. Batch order is a pure function of (seed, epoch) (batches.py), the learning rate
of the step (lr_schedule.py) and the augmentation of (seed, step) (data/augment.py). Under torchrun the
processes share each batch and average their gradients and metrics (distributed.py).
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from vaelab.config import Config, TrainingConfig, time_budget
from vaelab.data.augment import BatchAugmentation
from vaelab.objectives import LossTerms, Objective
from vaelab.training.batches import batch_indices, epoch_order, steps_per_epoch, to_tensor
from vaelab.training.callbacks import Callback
from vaelab.training.ema import WeightAverage
from vaelab.training.length import run_length, validation_interval
from vaelab.training.lr_schedule import learning_rate, warmup_steps
from vaelab.training.nonfinite import NonFiniteGuard
from vaelab.training.stop import Interrupted, StopSignals
from vaelab.training.validation import autocast, validate, validation_sums, with_one_sigma
from vaelab.version import __version__

if TYPE_CHECKING:
    from vaelab.training.distributed import DataParallel

log = logging.getLogger("vaelab")


def epoch_of(step: int, training: TrainingConfig, n_train: int) -> int:
    """The epoch (counted from 0) that `step` steps done are in, with n_train training images."""
    return step // steps_per_epoch(n_train, min(training.batch_size, n_train))


class Trainer:
    """Trains `model` on `images[train_index]` with `objective`, validating on `images[val_index]`.

    `augmentation` draws the augmented training batches (from images of its own, at the size its crops
    need); None trains on `images` as they are. `parallel` is this process's place in a data-parallel run
    (None: it trains alone).
    """

    def __init__(
        self,
        *,
        config: Config,
        model: nn.Module,
        objective: Objective,
        images: np.ndarray,
        train_index: np.ndarray,
        val_index: np.ndarray,
        device: torch.device,
        callbacks: list[Callback],
        augmentation: BatchAugmentation | None = None,
        parallel: DataParallel | None = None,
    ):
        self.config = config
        self.model = model
        self.objective = objective
        self.images = images
        self.train_index = train_index
        self.val_index = val_index
        self.device = device
        self.callbacks = callbacks
        self.augmentation = augmentation
        self.parallel = parallel
        self.network = model if parallel is None else parallel.wrap(model)  # what the training step runs
        training = config.training
        self.batch_size = min(training.batch_size, len(train_index))
        self.steps_per_epoch = steps_per_epoch(len(train_index), self.batch_size)
        self.length = run_length(training, len(train_index))
        self.total_steps = self.length.steps
        self.val_interval = validation_interval(training, self.steps_per_epoch, self.total_steps)
        self.warmup = warmup_steps(self.total_steps, training.warmup_steps)
        params = [*model.parameters(), *objective.trained_with_model()]
        fused = device.type in ("cuda", "cpu")
        self.optimizer = torch.optim.AdamW(params, lr=training.lr, weight_decay=training.weight_decay, fused=fused)
        self.average = WeightAverage(model, training.ema_decay) if training.ema else None
        self.guard = NonFiniteGuard(training, params, self.total_steps, parallel)
        self.noise = torch.Generator(device=device).manual_seed(training.seed)
        self.step = 0
        self.best_score = -math.inf
        self.val_metrics: dict[str, float] | None = None
        self.validated_at: int | None = None  # the step of the latest validation
        self.out_of_time = False  # the run ended on its time budget (training.time), before total_steps

    @property
    def epoch(self) -> int:
        """Epochs completed or under way, counted from 0."""
        return self.step // self.steps_per_epoch

    @property
    def lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    @property
    def eval_model(self) -> nn.Module:
        """The weights that are validated, drawn, kept as best.pt and evaluated: their moving average, or the
        trained ones without `training.ema`."""
        return self.model if self.average is None else self.average.model

    def autocast(self) -> contextlib.AbstractContextManager:
        return autocast(self.config, self.device)

    def batch(self, index: np.ndarray) -> torch.Tensor:
        """The images at `index` as they are, (B, C, H, W) floats in [0, 1] on the device."""
        return to_tensor(self.images, index, self.device, self.config.training.channels_last)

    def training_batch(self, index: np.ndarray) -> torch.Tensor:
        """The training images at `index`, augmented for this step where the run augments."""
        if self.augmentation is None:
            return self.batch(index)
        rank = 0 if self.parallel is None else self.parallel.rank
        return self.augmentation.batch(index, seed=self.config.training.seed, step=self.step, rank=rank)

    def training_step(self, x: torch.Tensor) -> LossTerms:
        """One step on x (B, C, H, W). Its update is skipped when the loss or a gradient is not finite
        (nonfinite.py): the model, the optimiser and the objective's buffers then stay as they were."""
        buffers = [buffer.clone() for buffer in self.objective.buffers()]  # GECO updates its own in forward
        noise = self.noise if self.parallel is None else self.parallel.noise(
            self.noise, seed=self.config.training.seed, step=self.step)
        with self.autocast():
            output = self.network(x, generator=noise, beta=self.objective.sample_beta(len(x), noise),
                                  samples=self.objective.samples)
            last_layer = None if self.objective.adversarial is None else self.model.output_layer.weight
            terms = self.objective(x, output, self.step, generator=noise, last_layer=last_layer)
        self.optimizer.zero_grad(set_to_none=True)
        terms.loss.backward()
        if self.parallel is not None:
            self.parallel.sync_objective(self.objective)
        training = self.config.training
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate(self.step, lr=training.lr, schedule=training.lr_schedule,
                                        warmup=self.warmup, total_steps=self.total_steps)
        if self.guard.allows_update(terms.loss, step=self.step + 1):
            self.optimizer.step()
            if self.average is not None:
                self.average.update(self.model)
            if self.objective.adversarial is not None:  # the discriminator's step (objectives/adversarial.py)
                sync = None if self.parallel is None else self.parallel.sync_objective
                terms.extras.update(self.objective.adversarial.discriminator_step(
                    x, output.reconstruction.detach(), step=self.step, lr=self.lr, sync=sync))
        else:
            for buffer, before in zip(self.objective.buffers(), buffers):
                buffer.copy_(before)
        return terms

    def fit(self) -> None:
        """Train until `total_steps`, or until the time budget (training.time) is spent.

        Ctrl-C or SIGTERM stop it before the next step (stop.py): `last.pt` is saved (on_interrupt) and
        `Interrupted` raised. In a data-parallel run a signal that reaches one process stops them all before
        the same step, and rank 0 saves. A second signal raises at once and saves nothing. A KeyboardInterrupt
        that a callback raises also saves `last.pt` on its way out.
        """
        self.model.train()
        self.objective.train()
        budget = self.config.training.time
        deadline = None if budget is None else time.monotonic() + time_budget(budget)
        self._emit("on_fit_start")
        with StopSignals() as stop:
            try:
                self._train_epochs(stop, deadline)
            except Interrupted as interrupt:
                if interrupt.between_steps:
                    self._emit("on_interrupt")
                raise
            except KeyboardInterrupt:
                self._emit("on_interrupt")
                raise
        self.guard.check_run(self.step)
        self._emit("on_fit_end")

    def _train_epochs(self, stop: StopSignals, deadline: float | None) -> None:
        """The loop of `fit`: steps, and every `val_interval` steps (and after the last) a validation pass; a
        requested stop is honoured between two steps, never between a step and its validation."""
        while self.step < self.total_steps:
            epoch = self.epoch
            order = epoch_order(self.train_index, self.config.training.seed, epoch)
            first = self.step - epoch * self.steps_per_epoch
            for b in range(first, self.steps_per_epoch):
                requested = stop.requested if self.parallel is None else self.parallel.stop_request(stop.requested)
                if requested is not None:
                    raise Interrupted(requested, between_steps=True)
                if deadline is not None and self._spent(deadline):
                    self.out_of_time = True
                    if self.validated_at != self.step:
                        self._validation()
                    return
                index = batch_indices(order, b, self.batch_size)
                if self.parallel is not None:
                    index = self.parallel.shard(index)  # this process's share of the global batch
                terms = self.training_step(self.training_batch(index))
                self.step += 1
                self._emit("on_train_batch_end", terms)
                if self.step % self.val_interval == 0 or self.step >= self.total_steps:
                    self._validation()
                if self.step >= self.total_steps:
                    return

    def _spent(self, deadline: float) -> bool:
        """Whether the time budget is spent (in any process of a data-parallel run: then in all of them)."""
        spent = time.monotonic() >= deadline
        return spent if self.parallel is None else self.parallel.any_holds(spent)

    def _validation(self) -> None:
        self.val_metrics = self.validate()
        self.validated_at = self.step
        self._emit("on_validation_end", self.val_metrics)

    def validate(self) -> dict[str, float]:
        """Mean metrics over the validation images (validation.py: a fixed noise seed, so that every pass
        is comparable) with the evaluated weights; a data-parallel run shares the images out and averages
        over them all."""
        index = self.val_index
        if self.parallel is None:
            return validate(self.eval_model, self.objective, self.images, index, config=self.config, step=self.step,
                            device=self.device, batch_size=self.batch_size)
        share = self.parallel.validation_share(index)
        sums = validation_sums(self.eval_model, self.objective, self.images, share, config=self.config,
                               step=self.step, device=self.device, batch_size=self.batch_size)
        return with_one_sigma(self.parallel.weighted_mean(sums, len(share)), self.objective, self.images.shape[1:])

    def state_dict(self) -> dict[str, Any]:
        return {
            "vaelab_version": __version__,
            "config": self.config.to_dict(),
            "model_hparams": self.model.hparams,
            "model": self.model.state_dict(),
            "ema": None if self.average is None else self.average.state_dict(),
            "objective": self.objective.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "step": self.step,
            "best_score": self.best_score,
            "noise": self.noise.get_state(),
            "nonfinite": self.guard.state_dict(),
            "callbacks": {type(callback).__name__: state for callback in self.callbacks
                          if (state := callback.state_dict())},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        if self.average is not None:
            if state.get("ema") is not None:
                self.average.load_state_dict(state["ema"])
            else:  # a checkpoint from before the moving average, or of a run without one: it starts here
                self.average = WeightAverage(self.model, self.config.training.ema_decay)
        self.objective.load_state_dict(state["objective"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step = state["step"]
        self.best_score = state["best_score"]
        try:
            self.noise.set_state(state["noise"].cpu())
        except RuntimeError:  # saved by another kind of device (a CUDA generator's state is not a CPU one's)
            seed = np.random.SeedSequence([self.config.training.seed, self.step]).generate_state(1)[0]
            self.noise.manual_seed(int(seed))
            log.warning("the checkpoint's noise generator belongs to another kind of device: the posterior noise "
                        "continues from a new seed (the weights, optimiser and step are exact)")
        if "nonfinite" in state:  # checkpoints from before vaelab counted skipped steps have none
            self.guard.load_state_dict(state["nonfinite"])
        saved = state.get("callbacks", {})  # none before callbacks had state
        for callback in self.callbacks:
            if type(callback).__name__ in saved:
                callback.load_state_dict(self, saved[type(callback).__name__])

    def _emit(self, hook: str, *args: Any) -> None:
        for callback in self.callbacks:
            getattr(callback, hook)(self, *args)
