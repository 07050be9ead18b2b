"""Callbacks: everything the training loop does besides optimising.

Hooks follow Lightning's naming, `on_<stage>_<unit>_<start|end>`. Each callback receives the
`Trainer` and reads what it needs from it; none of them changes the optimisation. A callback whose
state a resumed run needs (the train metrics' running window) gives it in `state_dict`, which the
trainer puts into its checkpoints, and takes it back in `load_state_dict`.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from tqdm import tqdm

from vaelab.numbers import format_number
from vaelab.objectives import LossTerms
from vaelab.objectives.geco import pinned_note
from vaelab.objectives.terms import as_floats
from vaelab.run_dir import save_checkpoint
from vaelab.training.loggers import Logger

if TYPE_CHECKING:
    from vaelab.training.trainer import Trainer

log = logging.getLogger("vaelab")


class Callback:
    """Base class: override the hooks you need."""

    def on_fit_start(self, trainer: Trainer) -> None: ...

    def on_train_batch_end(self, trainer: Trainer, terms: LossTerms) -> None: ...

    def on_validation_end(self, trainer: Trainer, metrics: dict[str, float]) -> None: ...

    def on_fit_end(self, trainer: Trainer) -> None: ...

    def on_interrupt(self, trainer: Trainer) -> None: ...

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, trainer: Trainer, state: dict[str, Any]) -> None: ...


class MetricLogging(Callback):
    """Train metrics averaged over `every` steps, and every validation pass, sent to the loggers.

    Every record names the estimator of its `kl` (`kl_estimator`: closed form, or Monte Carlo for a VampPrior).
    Train records leave out the steps skipped for a non-finite loss or gradient (nonfinite.py) and carry
    `skipped_steps`, the run's running total of them, and `grad_norm` (before clipping) when clipping is on.

    In a data-parallel run every process runs it, so that the train metrics are averaged over the
    processes too; only rank 0 has loggers. The processes skip the same steps (nonfinite.py), so all of
    them take the same branch below and make the same collective.

    The window under way (its sums and count) is checkpoint state: a run resumed between two records logs
    the records of a run that never stopped (exactly in one process). Under torchrun the processes' sums
    are added up at each validation, a collective, and rank 0's checkpoint holds them (a stop between
    validations saves no window there: the resumed run starts a new one).
    """

    def __init__(self, loggers: list[Logger], every: int):
        self.loggers = loggers
        self.every = every
        self.sums: dict[str, float | torch.Tensor] = defaultdict(float)
        self.count = 0
        self.window: dict[str, Any] | None = None  # the window as a checkpoint saved now holds it

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
        if trainer.parallel is None:
            self.window = {"sums": dict(self.sums), "count": self.count}
        else:  # every process's sums, added up (the counts are the same in all of them)
            means = trainer.parallel.weighted_mean(as_floats(self.sums), self.count) if self.count else {}
            total = self.count * trainer.parallel.size
            self.window = {"sums": {name: mean * total for name, mean in means.items()}, "count": self.count}

    def on_interrupt(self, trainer):
        self.window = {"sums": dict(self.sums), "count": self.count} if trainer.parallel is None else None

    def state_dict(self):
        return {} if self.window is None else {"window": self.window}

    def load_state_dict(self, trainer, state):
        """The window of the checkpoint: its sums on rank 0 (zeros elsewhere), its count in every process."""
        window = state["window"]
        first = trainer.parallel is None or trainer.parallel.rank == 0
        self.sums = defaultdict(float, {name: value if first else 0.0 for name, value in window["sums"].items()})
        self.count = window["count"]

    def on_fit_end(self, trainer):
        for logger in self.loggers:
            logger.close()

    def _log(self, trainer: Trainer, split: str, metrics: dict[str, Any]) -> None:
        record = {"epoch": trainer.epoch, "split": split, **metrics, "kl_estimator": trainer.objective.kl_estimator}
        for logger in self.loggers:
            logger.log_metrics(record, trainer.step)


class Checkpointing(Callback):
    """`checkpoints/last.pt` at every validation, on interrupt and at the end; `best.pt` on the best
    validation score (the beta = 1 ELBO, or minus the loss where the ELBO is not finite, as for the AE).

    Weights whose validation loss is not finite are not saved: last.pt stays the last checkpoint that
    validated to a finite loss (a run that goes on to diverge stops on `max_bad_steps`, and its last.pt
    must be worth resuming from). A warning says so.
    """

    def __init__(self, directory: Path):
        self.directory = directory
        self.saved_step: int | None = None  # the step last.pt holds

    def on_validation_end(self, trainer, metrics):
        if not math.isfinite(metrics["loss"]):
            log.warning("step %d: the validation loss is not finite, so these weights are not saved: "
                        "checkpoints/last.pt keeps the last ones that validated to a finite loss", trainer.step)
            return
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
        validated = trainer.val_metrics is not None and trainer.validated_at == trainer.step
        if validated and not math.isfinite(trainer.val_metrics["loss"]):
            return  # on_validation_end said so
        if self.saved_step != trainer.step:
            save_checkpoint(trainer.state_dict(), self.directory / "last.pt")
            self.saved_step = trainer.step


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
        self.bar.write(epoch_line(trainer, metrics))

    def on_fit_end(self, trainer):
        self.bar.close()

    on_interrupt = on_fit_end


def epoch_line(trainer: Trainer, metrics: dict[str, float]) -> str:
    """The line a validation pass prints: the loss, its terms, the beta = 1 ELBO at the shared sigma and under the
    run's own likelihood ("n/a" for what the model has not: the autoencoder's KL and ELBOs) and the MSE; the KL
    weight where it moves (a schedule, GECO's 1 / lambda) and the decoder sigma where it is learned, fitted or
    GECO's, beside the RMS error sqrt(MSE), the sigma that would fit these reconstructions best (Rybkin et al.
    2021)."""
    objective = trainer.config.objective
    line = (f"epoch {trainer.epoch} step {trainer.step}: val loss {format_number(metrics['loss'])}  "
            f"recon {format_number(metrics['recon'])}  kl {format_number(metrics['kl'])}  "
            f"elbo(beta=1): shared sigma {format_number(metrics.get('elbo_shared_sigma'))}, "
            f"own likelihood {format_number(metrics['elbo'])}  mse(z~q) {format_number(metrics['mse'])}")
    if "geco_lambda" in metrics:
        line += f"  beta {metrics['beta']:.4g} (1 / lambda, lambda {metrics['geco_lambda']:.4g})"
    elif objective.beta_schedule != "constant" and trainer.config.model.kind == "vae":
        line += f"  beta {metrics['beta']:.4g}"
    moving_sigma = objective.recon in ("sigma-learned", "sigma-optimal") or "geco_lambda" in metrics
    if moving_sigma and math.isfinite(metrics.get("sigma", math.nan)):
        line += f"  sigma {metrics['sigma']:.3g} (RMS error {math.sqrt(metrics['mse']):.3g})"
    return line


class GecoWarnings(Callback):
    """A warning in the terminal when GECO's lambda sits at one of its bounds at a validation (objectives.geco:
    `pinned_note`): when it first gets there, and again at the end of the run if it is still there."""

    def __init__(self) -> None:
        self.warned_at: int | None = None

    def on_validation_end(self, trainer, metrics):
        self._check(trainer, first_only=True)

    def on_fit_end(self, trainer):
        self._check(trainer, first_only=False)

    def _check(self, trainer: Trainer, *, first_only: bool) -> None:
        note = pinned_note(float(trainer.objective.weighting.multiplier), trainer.config.objective)
        if note is None or (first_only and self.warned_at is not None) or self.warned_at == trainer.step:
            return
        log.warning("step %d: %s", trainer.step, note)
        self.warned_at = trainer.step
