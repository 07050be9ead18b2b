"""The callback that records the gradient view (vaelab.diagnostics.gradients) during training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vaelab.diagnostics.gradients import batch_statistics, parameter_groups, summarise, term_gradients
from vaelab.model import at_beta
from vaelab.run_dir import read_metrics
from vaelab.training.callbacks import Callback
from vaelab.training.figures import FigureCadence
from vaelab.training.loggers import Logger
from vaelab.viz.diagnostics import plot_gradients

GRADIENT_BATCHES = 4  # fixed batches each record is averaged over (its interval is a t interval over them)


def adam_denominators(optimizer: torch.optim.Optimizer) -> dict[int, torch.Tensor] | None:
    """{id(parameter): sqrt(v_hat) + eps}, the per-coordinate divisor of Adam's current step (Kingma & Ba 2015,
    Algorithm 1: v_hat = v / (1 - beta2^t)); None before the optimiser's first step."""
    denominators = {}
    for group in optimizer.param_groups:
        _, beta2 = group["betas"]
        for p in group["params"]:
            state = optimizer.state.get(p, {})
            if "exp_avg_sq" not in state:
                return None
            step = float(state["step"])
            denominators[id(p)] = (state["exp_avg_sq"] / (1 - beta2**step)).sqrt() + group["eps"]
    return denominators


class GradientMonitor(Callback):
    """At step 1, every `every` steps and at the last step: the gradient view on GRADIENT_BATCHES fixed
    training batches.

    The batches (of the training batch size, disjoint, fewer when the training set is small) are the same
    all run long, so the curves show the network changing, not the data; the noise comes from its own
    generator, seeded by the step, so the trainer's random streams (and with them a resumed run's numbers)
    are untouched. Adam's preconditioner is read from the trainer's optimiser as it stands after the step.
    Records go to the run's loggers with `split: "train"`; `figures/gradients.png` is redrawn whenever the
    other figures are.
    """

    def __init__(self, loggers: list[Logger], *, every: int, run_dir: Path, figures: bool = True,
                 cadence: FigureCadence | None = None):
        self.loggers = loggers
        self.every = every
        self.metrics_path = run_dir / "metrics.jsonl"
        self.figure = run_dir / "figures" / "gradients.png" if figures else None
        self.cadence = cadence or FigureCadence()
        self.plotted_step: int | None = None
        self.batches: list[np.ndarray] = []

    def on_fit_start(self, trainer):
        rng = np.random.default_rng(trainer.config.training.seed)
        order = rng.permutation(trainer.train_index)
        count = max(1, min(GRADIENT_BATCHES, len(order) // trainer.batch_size))
        self.batches = [np.sort(order[b * trainer.batch_size : (b + 1) * trainer.batch_size]) for b in range(count)]

    def on_train_batch_end(self, trainer, terms):
        if not (trainer.step % self.every == 0 or trainer.step in (1, trainer.total_steps)):
            return
        generator = torch.Generator(device=trainer.device).manual_seed(trainer.config.training.seed + trainer.step)
        served = at_beta(trainer.model, trainer.config.objective.beta)  # a loss-conditional model: its validation beta
        groups = parameter_groups(served)
        preconditioner = adam_denominators(trainer.optimizer)
        taken = trainer.step - 1  # the step just taken, whose KL weight the gradients are of
        per_batch = [batch_statistics(term_gradients(served, trainer.objective, trainer.batch(index), step=taken,
                                                     generator=generator), groups, preconditioner)
                     for index in self.batches]
        record = {"epoch": trainer.epoch, "split": "train", **summarise(per_batch)}
        for logger in self.loggers:
            logger.log_metrics(record, trainer.step)

    def on_validation_end(self, trainer, metrics):
        if self.cadence.due(trainer.step):
            self._plot(trainer)

    def on_fit_end(self, trainer):
        if self.plotted_step != trainer.step:
            self._plot(trainer)

    def _plot(self, trainer) -> None:
        if self.figure is None:
            return
        self.figure.parent.mkdir(parents=True, exist_ok=True)
        with self.cadence.drawing(trainer.step):
            plot_gradients(read_metrics(self.metrics_path), self.figure, title=trainer.config.describe())
        self.plotted_step = trainer.step
