"""The callback that records the gradient decomposition (vaelab.diagnostics.gradients) during training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vaelab.diagnostics.gradients import gradient_metrics, term_gradients
from vaelab.model import at_beta
from vaelab.run_dir import read_metrics
from vaelab.training.callbacks import Callback
from vaelab.training.loggers import Logger
from vaelab.viz.diagnostics import plot_gradients


class GradientMonitor(Callback):
    """Every `every` steps, the gradient decomposition on one fixed training batch.

    The batch (of the training batch size) is the same all run long, so the curves show the network
    changing, not the data; the noise comes from its own generator, seeded by the step, so the
    trainer's random streams (and with them a resumed run's numbers) are untouched. Records go to
    the run's loggers with `split: "train"`; `figures/gradients.png` is redrawn whenever the other
    figures are.
    """

    def __init__(self, loggers: list[Logger], *, every: int, run_dir: Path, figures: bool = True):
        self.loggers = loggers
        self.every = every
        self.metrics_path = run_dir / "metrics.jsonl"
        self.figure = run_dir / "figures" / "gradients.png" if figures else None
        self.index: np.ndarray | None = None

    def on_fit_start(self, trainer):
        rng = np.random.default_rng(trainer.config.training.seed)
        self.index = np.sort(rng.choice(trainer.train_index, size=trainer.batch_size, replace=False))

    def on_train_batch_end(self, trainer, terms):
        if trainer.step % self.every != 0:
            return
        generator = torch.Generator(device=trainer.device).manual_seed(trainer.config.training.seed + trainer.step)
        served = at_beta(trainer.model, trainer.config.objective.beta)  # a loss-conditional model: its validation beta
        gradients = term_gradients(served, trainer.objective, trainer.batch(self.index), step=trainer.step,
                                   generator=generator)
        record = {"epoch": trainer.epoch, "split": "train", **gradient_metrics(gradients)}
        for logger in self.loggers:
            logger.log_metrics(record, trainer.step)

    def on_validation_end(self, trainer, metrics):
        self._plot(trainer)

    def on_fit_end(self, trainer):
        self._plot(trainer)

    def _plot(self, trainer) -> None:
        if self.figure is None:
            return
        self.figure.parent.mkdir(parents=True, exist_ok=True)
        plot_gradients(read_metrics(self.metrics_path), self.figure, title=trainer.config.describe())
