"""Callbacks: everything the training loop does besides optimising.

Hooks follow Lightning's naming, `on_<stage>_<unit>_<start|end>`. Each callback receives the
`Trainer` and reads what it needs from it; none of them changes the optimisation.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from tqdm import tqdm

from vaelab.numbers import format_number
from vaelab.objectives import LossTerms
from vaelab.objectives.terms import as_floats
from vaelab.run_dir import save_checkpoint
from vaelab.training.loggers import Logger

if TYPE_CHECKING:
    from vaelab.training.trainer import Trainer


class Callback:
    """Base class: override the hooks you need."""

    def on_fit_start(self, trainer: Trainer) -> None: ...

    def on_train_batch_end(self, trainer: Trainer, terms: LossTerms) -> None: ...

    def on_validation_end(self, trainer: Trainer, metrics: dict[str, float]) -> None: ...

    def on_fit_end(self, trainer: Trainer) -> None: ...

    def on_interrupt(self, trainer: Trainer) -> None: ...


class MetricLogging(Callback):
    """Train metrics averaged over `every` steps, and every validation pass, sent to the loggers.

    Train records leave out the steps skipped for a non-finite loss or gradient (nonfinite.py) and carry
    `skipped_steps`, the run's running total of them, and `grad_norm` (before clipping) when clipping is on.

    In a data-parallel run every process runs it, so that the train metrics are averaged over the
    processes too; only rank 0 has loggers. The processes skip the same steps (nonfinite.py), so all of
    them take the same branch below and make the same collective.
    """

    def __init__(self, loggers: list[Logger], every: int):
        self.loggers = loggers
        self.every = every
        self.sums: dict[str, float | torch.Tensor] = defaultdict(float)
        self.count = 0

    def on_train_batch_end(self, trainer, terms):
        metrics = terms.metric_values()  # tensors stay on the device: summed there, read at the log interval
        if trainer.guard.grad_norm is not None:
            metrics["grad_norm"] = trainer.guard.grad_norm
        if not trainer.guard.last_skipped:  # a skipped step's non-finite terms would make the means nan
            for name, value in metrics.items():
                self.sums[name] = self.sums[name] + value
            self.count += 1
        if trainer.step % self.every == 0 or trainer.step == trainer.total_steps:
            if not self.count:  # every step of the window was skipped: the last one as it was (nan in any process: nan)
                last = as_floats(metrics)
                means = last if trainer.parallel is None else trainer.parallel.weighted_mean(last, 1)
            elif trainer.parallel is None:
                means = {name: total / self.count for name, total in as_floats(self.sums).items()}
            else:
                means = trainer.parallel.weighted_mean(as_floats(self.sums), self.count)
            self._log(trainer, "train", {**means, "lr": trainer.lr, "skipped_steps": trainer.guard.skipped_steps})
            self.sums.clear()
            self.count = 0

    def on_validation_end(self, trainer, metrics):
        self._log(trainer, "val", metrics)

    def on_fit_end(self, trainer):
        for logger in self.loggers:
            logger.close()

    def _log(self, trainer: Trainer, split: str, metrics: dict[str, Any]) -> None:
        record = {"epoch": trainer.epoch, "split": split, **metrics}
        for logger in self.loggers:
            logger.log_metrics(record, trainer.step)


class Checkpointing(Callback):
    """`checkpoints/last.pt` at every validation, on interrupt and at the end; `best.pt` on the best
    validation score (the beta = 1 ELBO, or minus the loss where the ELBO is not finite, as for the AE)."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.saved_step: int | None = None  # the step last.pt holds

    def on_validation_end(self, trainer, metrics):
        score = metrics["elbo"] if math.isfinite(metrics["elbo"]) else -metrics["loss"]
        if score > trainer.best_score:
            trainer.best_score = score
            save_checkpoint(trainer.state_dict(), self.directory / "best.pt")
        self._save_last(trainer)

    def on_interrupt(self, trainer):
        self._save_last(trainer)

    def on_fit_end(self, trainer):
        self._save_last(trainer)

    def _save_last(self, trainer) -> None:
        if self.saved_step != trainer.step:
            save_checkpoint(trainer.state_dict(), self.directory / "last.pt")
            self.saved_step = trainer.step


def validation_line(epoch: int, step: int, metrics: dict[str, float]) -> str:
    """The terminal's line for a validation pass; "n/a" for what the model has not (the autoencoder's KL, ELBO)."""
    return (f"epoch {epoch} step {step}: val loss {format_number(metrics['loss'])}  "
            f"recon {format_number(metrics['recon'])}  kl {format_number(metrics['kl'])}  "
            f"elbo(beta=1): shared sigma {format_number(metrics.get('elbo_shared_sigma'))}, "
            f"own likelihood {format_number(metrics['elbo'])}  mse(z~q) {format_number(metrics['mse'])}")


class ProgressBar(Callback):
    """A tqdm bar over steps showing the loss and its two terms, and a line per validation.

    The bar is drawn only on a terminal: where stderr is a file or a pipe (a log, CI, a job
    scheduler) its redraws would fill the log, which then gets the validation lines alone.
    """

    def __init__(self) -> None:
        self.bar: tqdm | None = None

    def on_fit_start(self, trainer):
        self.bar = tqdm(total=trainer.total_steps, initial=trainer.step, unit="step", dynamic_ncols=True, leave=True,
                        disable=None)  # None: off unless stderr is a terminal

    def on_train_batch_end(self, trainer, terms):
        self.bar.update(1)
        if trainer.step % 10 == 0:
            m = terms.metrics()
            self.bar.set_postfix(loss=f"{m['loss']:.4g}", recon=f"{m['recon']:.4g}", kl=f"{m['kl']:.4g}", refresh=False)

    def on_validation_end(self, trainer, metrics):
        self.bar.write(validation_line(trainer.epoch, trainer.step, metrics))

    def on_fit_end(self, trainer):
        self.bar.close()

    on_interrupt = on_fit_end
