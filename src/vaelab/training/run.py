"""`train(config, out)`: the whole of `vaelab train` as one importable function.

It prepares the run directory (refusing to overwrite a different run), loads the data, builds the
model and the objective from the config, resumes from `checkpoints/last.pt` when asked, and trains.
Under torchrun the processes train the run together and rank 0 writes its files (`distributed.py`).

What it never does (docs/reliability.md): delete or overwrite what a run already has. A resume needs
the run's own config and a last.pt that was trained with it; a new run that fails before it has logged
a record or saved a checkpoint leaves its folder as it found it. A full disk, or a process of a torchrun
run that dies, ends the run with one line saying what happened and where its last checkpoint is.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vaelab.config import RESUMABLE_KEYS, Config
from vaelab.data import ImageData, load_images, skipped_warning, split_indices, write_skipped
from vaelab.data.augment import training_augmentation
from vaelab.diagnostics.baseline import fit_linear_baseline
from vaelab.errors import ExternalError, UsageError
from vaelab.files import mount_point, no_space, remove_partial_writes
from vaelab.model import build_model
from vaelab.model.linear_path import WithLinearPath
from vaelab.objectives import build_objective, check_objective
from vaelab.objectives.decoder_variance import LearnedSigmaGaussian, optimal_log_sigma
from vaelab.objectives.rules import length_warnings
from vaelab.run_dir import RunDir, load_checkpoint, restoring, truncate_metrics
from vaelab.training.batches import batch_indices, epoch_order, to_tensor
from vaelab.training.callbacks import Callback, Checkpointing, GecoWarnings, MetricLogging, ProgressBar
from vaelab.training.device import check_model_fits, keep_freed_memory, resolve_device
from vaelab.training.distributed import DataParallel, data_parallel, lost_a_process, outlive_the_launcher
from vaelab.training.figures import FigureCadence, FigureWriter
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


def training_network(config: Config, images: np.ndarray, train_index: np.ndarray, device: torch.device
                     ) -> torch.nn.Module:
    """The network of `config` as its training starts: initialised from training.seed, its linear path (if any)
    at the PCA of the training images, a VampPrior's pseudo-inputs at training images, on `device`, in the memory layout and (torch.compile) form the run trains
    it in."""
    torch.manual_seed(config.training.seed)
    model = build_model(config, tuple(images.shape[1:])).to(device)
    if config.model.linear_path:
        start_at_pca(model, images, train_index)
    if config.model.prior == "vamp":
        start_pseudo_inputs(model.prior, images, train_index, config.training.seed)
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


@torch.no_grad()
def start_sigma_at_data(model: torch.nn.Module, likelihood: LearnedSigmaGaussian, x: torch.Tensor) -> float:
    """sigma-learned without --sigma: log sigma starts at the optimum for the untrained network, the RMS error of
    its reconstructions (posterior means) of x (B, C, H, W), the first training batch as it is, per channel where
    sigma is (objectives/decoder_variance.py). Returns the sigma it starts at (the mean over channels)."""
    log_sigma = optimal_log_sigma(x, model(x, sample=False).reconstruction, per_channel=likelihood.per_channel)
    likelihood.start_at(log_sigma)
    return float(log_sigma.exp().mean())


def check_run_dir(config: Config, out: Path, resume: bool) -> None:
    """Never overwrite a run that is already there; resume only the run that is there, from its last.pt."""
    run = RunDir(out)
    if resume:
        if not run.config_file.exists():
            raise UsageError(f"{out} holds no run to resume (no config.yaml): start it without --resume")
        if Config.load_saved(run.config_file).run_identity() != config.run_identity():
            raise UsageError(f"the config differs from {run.config_file}: resume with the saved config (only the run "
                             "length, display and execution options may change)")
        last, best = run.checkpoint("last"), run.checkpoint("best")
        if not last.exists() and best.exists():
            raise UsageError(f"{out} has no checkpoints/last.pt to continue from, but its best.pt is there: to "
                             f"continue from best.pt, copy it (cp {best} {last}) and resume again; or start a new run")
    elif any(path.name != LOCK_NAME for path in out.iterdir()):
        raise UsageError(f"{out} already holds files: pass --resume to continue that run, or choose a new --out")


def check_checkpoint_config(state: dict[str, Any], config: Config, path: Path) -> None:
    """The checkpoint a run resumes from must have been trained with the run's config (config.yaml can be
    damaged or replaced); keys that only one of them knows (another vaelab version's) are not compared."""
    saved = _flat(state.get("config", {}))
    current = _flat(config.to_dict())
    differing = sorted(key for key in saved.keys() & current.keys()
                       if key not in RESUMABLE_KEYS and saved[key] != current[key])
    if differing:
        key = differing[0]
        raise UsageError(f"{path} was trained with {key}={saved[key]!r}, but the run's config.yaml says "
                         f"{current[key]!r}{f' (and {len(differing) - 1} more)' if len(differing) > 1 else ''}: "
                         "config.yaml does not belong to this checkpoint; restore it, or start a new run")


def _flat(raw: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat = {}
    for name, value in raw.items():
        flat.update(_flat(value, f"{prefix}{name}.") if isinstance(value, dict) else {f"{prefix}{name}": value})
    return flat


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
        try:
            with claim if parallel is None else parallel.on_rank_zero(claim):
                return _train(config, out, resume, callbacks, parallel)
        except Exception as error:
            if parallel is not None and lost_a_process(error):
                outlive_the_launcher()  # first: torchrun's agent is about to send SIGTERM
            stopped = _stopped_from_outside(error, out, parallel)
            if stopped is None:
                raise
            raise stopped from None


@contextlib.contextmanager
def _claim(config: Config, out: Path, resume: bool):
    """Hold the run lock of `out` and check that this run may be trained into it. A new run that fails before
    it has logged a record or saved a checkpoint removes what it wrote (and run_lock the folder it created)."""
    with run_lock(out):
        check_run_dir(config, out, resume)
        try:
            yield
        except BaseException:
            run = RunDir(out)
            if not resume and not run.records() and not list(run.checkpoints.glob("*.pt")):
                for path in out.iterdir():  # all of it this run's: check_run_dir found nothing but the lock
                    if path.is_dir() and not path.is_symlink():
                        shutil.rmtree(path)
                    elif path.name != LOCK_NAME:
                        path.unlink()
            raise


def _stopped_from_outside(error: Exception, out: Path, parallel: DataParallel | None) -> ExternalError | None:
    """The one-line `ExternalError` for a run stopped by a full disk or by the death of another process of its
    torchrun run (gloo or NCCL fails in the next collective), saying where its last good checkpoint is; None
    for anything else."""
    full = no_space(error)
    if full is not None:
        where = f" while writing {full.filename}" if full.filename else ""
        return ExternalError(f"no space left on {mount_point(full.filename or out)}{where}: "
                             f"{_last_good(out, 'free some space')}")
    if parallel is not None and lost_a_process(error):
        return ExternalError(f"another process of this torchrun run stopped (killed, or out of memory?), so this one "
                             f"cannot go on: {_last_good(out, 'see why it stopped', torchrun=True)}")
    return None


def _last_good(out: Path, first: str, torchrun: bool = False) -> str:
    """Where the run can continue from: "the last good checkpoint is ... (step N); FIRST, then continue with ..."."""
    last = RunDir(out).checkpoint("last")
    command = f"{'torchrun ... -m ' if torchrun else ''}vaelab train --out {out} --resume"
    if not last.exists():
        return f"no checkpoint was saved; {first}, then start the run again"
    try:
        step = f" (step {load_checkpoint(last)['step']})"
    except (UsageError, KeyError):
        step = ""
    return f"the last good checkpoint is {last}{step}; {first}, then continue with: {command}"


def _parameter_count(config: Config, image_shape: tuple[int, int, int]) -> int:
    """The number of parameters of the run's network, counted on the meta device: nothing is allocated."""
    with torch.device("meta"):
        return sum(parameter.numel() for parameter in build_model(config, image_shape).parameters())


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
    check_model_fits(_parameter_count(config, image_shape), device, ema=config.training.ema)

    model = training_network(config, data.images, train_index, device)
    if config.model.prior == "gmm":
        check_components("gmm", len(model.prior.mean), len(train_index))
    total_steps = run_length(config.training, len(train_index)).steps
    for note in length_warnings(config, total_steps):  # a cyclical schedule with more cycles than steps raises
        log.warning(note)
    objective = build_objective(config, image_shape, total_steps=total_steps, train_images=len(train_index)).to(device)
    if device.type == "cpu":
        keep_freed_memory()  # no page faults on every step's buffers: see its docstring
    run = RunDir(out)
    last = run.checkpoint("last")
    resuming = resume and last.exists()
    state = None
    if resuming:  # read and checked before anything is written
        state = load_checkpoint(last, map_location=device)
        check_checkpoint_config(state, config, last)
    if writes and not resuming:  # a new run, or one stopped before its first checkpoint (best.pt: check_run_dir)
        run.metrics_file.unlink(missing_ok=True)
        shutil.rmtree(run.checkpoints, ignore_errors=True)
    if config.objective.recon == "sigma-learned" and config.objective.sigma is None and not resuming:
        first = batch_indices(epoch_order(train_index, config.training.seed, 0), 0,
                              min(config.training.batch_size, len(train_index)))
        x = to_tensor(data.images, first, device, config.training.channels_last)
        sigma = start_sigma_at_data(model, objective.likelihood, x)
        log.info("sigma-learned starts at sigma = %.3g, the RMS error of the untrained network on the first batch",
                 sigma)

    trainer_callbacks = (_callbacks(config, out, callbacks) if writes  # the other processes only average the metrics:
                         else [MetricLogging([], every=config.training.log_every)])
    trainer = Trainer(
        config=config, model=model, objective=objective, images=data.images, train_index=train_index,
        val_index=val_index, device=device, callbacks=trainer_callbacks, augmentation=augmentation, parallel=parallel,
    )
    if resuming:
        with restoring(last):
            trainer.load_state_dict(state)
    if writes:  # only now: a start that fails before here has changed nothing of a run it resumes
        run.save_config(config)
        run.save_model_info(model.hparams)
        if resuming:
            remove_partial_writes(run.checkpoints)
            truncate_metrics(run.metrics_file, trainer.step)
    if resuming:
        log.info("resuming %s at step %d of %d", out, trainer.step, trainer.total_steps)
    elif resume:
        log.info("%s stopped before its first checkpoint: training it from step 0", out)

    log.info("%s on %s: %d train / %d val images, %d steps (%s) on %s%s", config.describe(), data.source,
             len(train_index), len(val_index), trainer.total_steps, trainer.length.reason, device,
             "" if augmentation is None else f", training batches augmented ({config.data.augment}: "
             f"{', '.join(sorted(k for k in ('flip', 'crop') if getattr(augmentation, k)))})")
    length = {"total_steps": trainer.total_steps}
    if writes:  # status.json: `vaelab runs ls` tells a run that is under way from one that ended
        run.save_status("running", step=trainer.step, **length)
    try:
        trainer.fit()
    except KeyboardInterrupt as interrupt:
        if not writes:  # under torchrun rank 0 tells it
            raise
        run.save_status("interrupted", step=trainer.step, **length)
        if isinstance(interrupt, Interrupted) and not interrupt.between_steps:
            log.warning("stopped at once after step %d, which is not saved: continue from the last checkpoint with: "
                        "vaelab train --out %s --resume", trainer.step, out)
        else:
            log.warning("interrupted at step %d: checkpoint saved; continue with: vaelab train --out %s --resume",
                        trainer.step, out)
        raise
    except Exception as error:
        if writes:
            run.save_status("failed", step=trainer.step, **length, error=f"{type(error).__name__}: {error}")
        raise
    if writes:
        run.save_status("finished", step=trainer.step, **length, **({"ended": "time budget"} if trainer.out_of_time
                                                                    else {}))
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
    cadence = FigureCadence()  # the drawing callbacks draw at the same validations, together a tenth of the time
    return [
        *([PriorFitting(run.checkpoints)] if config.model.prior == "gmm" else []),  # before the checkpoints, figures
        MetricLogging(loggers, every=config.training.log_every),
        *([GradientMonitor(loggers, every=grad_every, run_dir=out, figures=config.training.figures, cadence=cadence)]
          if grad_every else []),
        Checkpointing(run.checkpoints),
        *([FigureWriter(out, cadence)] if config.training.figures else []),
        *([TensorBoardFigures(tensorboard, run.figures)] if tensorboard is not None else []),
        *([ProgressBar()] if config.training.progress else []),
        *([GecoWarnings()] if config.objective.geco_target is not None and config.model.kind == "vae" else []),
        *callbacks,
    ]


def _report_skipped(data: ImageData, out: Path) -> None:
    if data.skipped:
        skipped = RunDir(out).skipped_file
        write_skipped(data.skipped, skipped)
        log.warning(skipped_warning(data.skipped, skipped))
