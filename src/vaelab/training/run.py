"""`train(config, out)`: the whole of `vaelab train` as one importable function.

It prepares the run directory (refusing to overwrite a different run), loads the data, builds the
model and the objective from the config, resumes from `checkpoints/last.pt` when asked, and trains.
Under torchrun the processes train the run together and rank 0 writes its files (`distributed.py`).
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vaelab.config import Config
from vaelab.data import ImageData, load_images, skipped_warning, split_indices, write_skipped
from vaelab.data.augment import training_augmentation
from vaelab.diagnostics.baseline import fit_linear_baseline
from vaelab.errors import UsageError
from vaelab.files import remove_partial_writes
from vaelab.model import build_model
from vaelab.model.linear_path import WithLinearPath
from vaelab.objectives import build_objective, check_objective
from vaelab.run_dir import RunDir, load_checkpoint, truncate_metrics
from vaelab.training.callbacks import Callback, Checkpointing, MetricLogging, ProgressBar
from vaelab.training.device import keep_freed_memory, resolve_device
from vaelab.training.distributed import DataParallel, data_parallel
from vaelab.training.figures import FigureWriter
from vaelab.training.gradient_view import GradientMonitor
from vaelab.training.length import run_length
from vaelab.training.lock import LOCK_NAME, run_lock
from vaelab.training.loggers import JsonlLogger, Logger
from vaelab.training.prior_fit import PriorFitting, check_components, start_pseudo_inputs
from vaelab.training.stop import Interrupted
from vaelab.training.tensorboard import TensorBoardFigures, TensorBoardLogger
from vaelab.training.trainer import Trainer
from vaelab.viz.report import refresh_report

log = logging.getLogger("vaelab")


@dataclass
class RunResult:
    """What `train` returns: where the run lives and its final validation metrics."""

    run_dir: Path
    metrics: dict[str, float]
    steps: int


def training_network(config: Config, image_shape: tuple[int, int, int], device: torch.device) -> torch.nn.Module:
    """The network of `config`, initialised from training.seed, on `device`, in the memory layout and
    (torch.compile) form the run trains it in."""
    torch.manual_seed(config.training.seed)
    model = build_model(config, image_shape).to(device)
    if config.training.channels_last:
        model = model.to(memory_format=torch.channels_last)
    if config.training.compile:
        model.compile()  # in place (nn.Module.compile): the state_dict keeps its names
    return model


def start_at_pca(model: WithLinearPath, images, train_index) -> None:
    """The linear path's start (model/linear_path.py): PCA of the training split, as it is (never augmented)."""
    flat = np.asarray(images[np.sort(train_index)]).reshape(len(train_index), -1).astype(np.float32) / 255
    baseline = fit_linear_baseline(flat, model.latent_dim)
    model.initialise_from_pca(baseline.mean, baseline.directions, baseline.eigenvalues)


def check_run_dir(config: Config, out: Path, resume: bool) -> None:
    """Never overwrite a run that is already there; resume only the run that is there."""
    saved = RunDir(out).config_file
    if resume:
        if not saved.exists():
            raise UsageError(f"{out} holds no run to resume (no config.yaml): start it without --resume")
        if Config.load(saved).run_identity() != config.run_identity():
            raise UsageError(f"the config differs from {saved}: resume with the saved config (only the run length, "
                             "display and execution options may change)")
    elif any(path.name != LOCK_NAME for path in out.iterdir()):
        raise UsageError(f"{out} already holds files: pass --resume to continue that run, or choose a new --out")


def train(
    config: Config, out: str | Path | None = None, *, resume: bool = False, callbacks: list[Callback] = ()
) -> RunResult:
    """Train one run into `out` (default: runs/<timestamp>) and return its final validation metrics.

    In a data-parallel run (torchrun, more than one process) every process calls this and gets the
    same metrics back; `callbacks` run on rank 0 only, with the files.
    """
    check_objective(config.validate())
    out = Path(out) if out is not None else Path("runs") / time.strftime("%Y%m%d-%H%M%S")
    with data_parallel(config.training) as parallel:  # None unless torchrun started more than one process
        if parallel is not None:
            out = parallel.from_rank_zero(out)  # the default name is rank 0's clock
        claim = _claim(config, out, resume)
        with claim if parallel is None else parallel.on_rank_zero(claim):
            return _train(config, out, resume, callbacks, parallel)


@contextlib.contextmanager
def _claim(config: Config, out: Path, resume: bool):
    """Hold the run lock of `out` and check that this run may be trained into it."""
    with run_lock(out):
        check_run_dir(config, out, resume)
        yield


def _train(
    config: Config, out: Path, resume: bool, callbacks: list[Callback], parallel: DataParallel | None
) -> RunResult:
    writes = parallel is None or parallel.rank == 0  # one process writes the run's files
    if config.training.threads:
        torch.set_num_threads(config.training.threads)
    device = resolve_device(config.training.device) if parallel is None else parallel.device

    data = load_images(config.data)
    augmentation = training_augmentation(config.data, data, device=device, channels_last=config.training.channels_last)
    train_index, val_index = split_indices(len(data.images), config.data.val_fraction, config.data.split_seed)
    if not len(val_index):  # validation on training images would pass them off as held-out ones
        raise UsageError(f"data.val_fraction={config.data.val_fraction} leaves no validation images of the "
                         f"{len(data.images)}: use --val-fraction 0.1 (best.pt and the report need held-out images)")
    if writes:
        _report_skipped(data, out)
    image_shape = tuple(data.images.shape[1:])

    model = training_network(config, image_shape, device)
    if config.model.linear_path:
        start_at_pca(model, data.images, train_index)
    if config.model.prior == "vamp":
        start_pseudo_inputs(model.prior, data.images, train_index, config.training.seed)
    if config.model.prior == "gmm":
        check_components("gmm", len(model.prior.mean), len(train_index))
    total_steps = run_length(config.training, len(train_index)).steps
    objective = build_objective(config, image_shape, total_steps=total_steps, train_images=len(train_index)).to(device)
    if device.type == "cpu":
        keep_freed_memory()  # no page faults on every step's buffers: see its docstring
    run = RunDir(out)
    last = run.checkpoint("last")
    resuming = resume and last.exists()
    if writes:
        run.save_config(config)  # only once the data loaded: a failed start leaves nothing to clear up
        run.save_model_info(model.hparams)
        if not resuming:
            run.metrics_file.unlink(missing_ok=True)
            shutil.rmtree(run.checkpoints, ignore_errors=True)
        else:
            remove_partial_writes(run.checkpoints)

    trainer_callbacks = (_callbacks(config, out, callbacks) if writes  # the other processes only average the metrics:
                         else [MetricLogging([], every=config.training.log_every)])
    trainer = Trainer(
        config=config, model=model, objective=objective, images=data.images, train_index=train_index,
        val_index=val_index, device=device, callbacks=trainer_callbacks, augmentation=augmentation, parallel=parallel,
    )
    if resuming:
        trainer.load_state_dict(load_checkpoint(last, map_location=device))
        if writes:
            truncate_metrics(run.metrics_file, trainer.step)
        log.info("resuming %s at step %d of %d", out, trainer.step, trainer.total_steps)

    log.info("%s on %s: %d train / %d val images, %d steps (%s) on %s%s", config.describe(), data.source,
             len(train_index), len(val_index), trainer.total_steps, trainer.length.reason, device,
             "" if augmentation is None else f", training batches augmented ({config.data.augment}: "
             f"{', '.join(sorted(k for k in ('flip', 'crop') if getattr(augmentation, k)))})")
    try:
        trainer.fit()
    except KeyboardInterrupt as interrupt:
        if isinstance(interrupt, Interrupted) and not interrupt.between_steps:
            log.warning("stopped at once after step %d, which is not saved: continue from the last checkpoint with: "
                        "vaelab train --out %s --resume", trainer.step, out)
        else:
            log.warning("interrupted at step %d: checkpoint saved; continue with: vaelab train --out %s --resume",
                        trainer.step, out)
        raise
    result = RunResult(run_dir=out, metrics=trainer.val_metrics or trainer.validate(), steps=trainer.step)
    if writes:
        refresh_report(out)
    return result


def _callbacks(config: Config, out: Path, callbacks: list[Callback]) -> list[Callback]:
    """The callbacks of the process that writes the run: metrics, gradients, checkpoints, figures, progress, yours."""
    run = RunDir(out)
    loggers: list[Logger] = [JsonlLogger(run.metrics_file)]
    tensorboard = TensorBoardLogger(run.tensorboard) if config.training.tensorboard else None
    if tensorboard is not None:
        loggers.append(tensorboard)
    grad_every = config.training.grad_every
    return [
        *([PriorFitting(run.checkpoints)] if config.model.prior == "gmm" else []),  # before the checkpoints, figures
        MetricLogging(loggers, every=config.training.log_every),
        *([GradientMonitor(loggers, every=grad_every, run_dir=out, figures=config.training.figures)]
          if grad_every else []),
        Checkpointing(run.checkpoints),
        *([FigureWriter(out)] if config.training.figures else []),
        *([TensorBoardFigures(tensorboard, run.figures)] if tensorboard is not None else []),
        *([ProgressBar()] if config.training.progress else []),
        *callbacks,
    ]


def _report_skipped(data: ImageData, out: Path) -> None:
    if data.skipped:
        skipped = RunDir(out).skipped_file
        write_skipped(data.skipped, skipped)
        log.warning(skipped_warning(data.skipped, skipped))
