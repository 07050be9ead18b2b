"""`train(config, out)`: the whole of `vaelab train` as one importable function.

It prepares the run directory (refusing to overwrite a different run), loads the data, builds the
model and the objective from the config, resumes from `checkpoints/last.pt` when asked, and trains.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from vaelab.config import Config
from vaelab.data import ImageData, load_images, skipped_warning, split_indices, write_skipped
from vaelab.diagnostics.gradients import GradientMonitor
from vaelab.errors import UsageError
from vaelab.model import ConvVAE
from vaelab.objectives import Objective
from vaelab.training.callbacks import Callback, Checkpointing, MetricLogging, ProgressBar
from vaelab.training.checkpoint import load_checkpoint, remove_partial_checkpoints
from vaelab.training.device import resolve_device
from vaelab.training.figures import FigureWriter
from vaelab.training.lock import LOCK_NAME, run_lock
from vaelab.training.loggers import JsonlLogger, Logger, truncate_metrics
from vaelab.training.tensorboard import TensorBoardFigures, TensorBoardLogger
from vaelab.training.trainer import Trainer, run_length
from vaelab.viz.report import refresh_report

log = logging.getLogger("vaelab")


@dataclass
class RunResult:
    """What `train` returns: where the run lives and its final validation metrics."""

    run_dir: Path
    metrics: dict[str, float]
    steps: int


def build_model(config: Config, image_shape: tuple[int, int, int]) -> ConvVAE:
    channels, size, _ = image_shape
    return ConvVAE(
        image_size=size, channels=channels, latent_dim=config.model.latent_dim, width=config.model.width,
        kind=config.model.kind,
    )


def build_objective(config: Config, image_shape: tuple[int, int, int], *, total_steps: int) -> Objective:
    """The objective of `config`; `total_steps` is the run's length (cyclical beta schedules divide it)."""
    return Objective(config.objective, image_shape=image_shape, deterministic=config.model.kind == "ae",
                     total_steps=total_steps)


def check_run_dir(config: Config, out: Path, resume: bool) -> None:
    """Never overwrite a run that is already there; resume only the run that is there."""
    saved = out / "config.yaml"
    if resume:
        if not saved.exists():
            raise UsageError(f"{out} holds no run to resume (no config.yaml): start it without --resume")
        if run_identity(Config.load(saved)) != run_identity(config):
            raise UsageError(f"the config differs from {saved}: resume with the saved config (only --epochs/--steps may change)")
    elif any(path.name != LOCK_NAME for path in out.iterdir()):
        raise UsageError(f"{out} already holds files: pass --resume to continue that run, or choose a new --out")


def train(
    config: Config, out: str | Path | None = None, *, resume: bool = False, callbacks: list[Callback] = ()
) -> RunResult:
    """Train one run into `out` (default: runs/<timestamp>) and return its final validation metrics."""
    config.validate()
    out = Path(out) if out is not None else Path("runs") / time.strftime("%Y%m%d-%H%M%S")
    with run_lock(out):
        return _train(config, out, resume, callbacks)


def _train(config: Config, out: Path, resume: bool, callbacks: list[Callback]) -> RunResult:
    check_run_dir(config, out, resume)
    if config.training.threads:
        torch.set_num_threads(config.training.threads)
    device = resolve_device(config.training.device)

    data = load_images(config.data)
    _report_skipped(data, out)
    train_index, val_index = split_indices(len(data.images), config.data.val_fraction, config.data.split_seed)
    image_shape = tuple(data.images.shape[1:])

    torch.manual_seed(config.training.seed)
    model = build_model(config, image_shape).to(device)
    total_steps = run_length(config.training, len(train_index))
    objective = build_objective(config, image_shape, total_steps=total_steps).to(device)
    if config.training.channels_last:
        model = model.to(memory_format=torch.channels_last)
    config.save(out / "config.yaml")  # only once the data loaded: a failed start leaves nothing to clear up

    checkpoints = out / "checkpoints"
    last = checkpoints / "last.pt"
    resuming = resume and last.exists()
    if not resuming:
        (out / "metrics.jsonl").unlink(missing_ok=True)
        shutil.rmtree(checkpoints, ignore_errors=True)
    else:
        remove_partial_checkpoints(checkpoints)

    loggers: list[Logger] = [JsonlLogger(out / "metrics.jsonl")]
    tensorboard = TensorBoardLogger(out / "tensorboard") if config.training.tensorboard else None
    if tensorboard is not None:
        loggers.append(tensorboard)
    grad_every = config.training.grad_every
    trainer_callbacks: list[Callback] = [
        MetricLogging(loggers, every=config.training.log_every),
        *([GradientMonitor(loggers, every=grad_every, run_dir=out, figures=config.training.figures)]
          if grad_every else []),
        Checkpointing(checkpoints),
        *([FigureWriter(out)] if config.training.figures else []),
        *([TensorBoardFigures(tensorboard, out / "figures")] if tensorboard is not None else []),
        *([ProgressBar()] if config.training.progress else []),
        *callbacks,
    ]
    trainer = Trainer(
        config=config, model=model, objective=objective, images=data.images, train_index=train_index,
        val_index=val_index, device=device, callbacks=trainer_callbacks,
    )
    if resuming:
        trainer.load_state_dict(load_checkpoint(last, map_location=device))
        truncate_metrics(out / "metrics.jsonl", trainer.step)
        log.info("resuming %s at step %d of %d", out, trainer.step, trainer.total_steps)

    log.info("%s on %s: %d train / %d val images, %d steps on %s", config.describe(), data.source,
             len(train_index), len(val_index), trainer.total_steps, device)
    try:
        trainer.fit()
    except KeyboardInterrupt:
        log.warning("interrupted at step %d: checkpoint saved; continue with: vaelab train --out %s --resume",
                    trainer.step, out)
        raise
    result = RunResult(run_dir=out, metrics=trainer.val_metrics or trainer.validate(), steps=trainer.step)
    refresh_report(out)
    return result


def run_identity(config: Config) -> dict:
    """What makes two configs the same run: everything but the run length and the display options."""
    raw = config.to_dict()
    for key in ("epochs", "steps", "progress", "figures", "tensorboard"):
        raw["training"].pop(key)
    return raw


def _report_skipped(data: ImageData, out: Path) -> None:
    if data.skipped:
        write_skipped(data.skipped, out / "skipped.txt")
        log.warning(skipped_warning(data.skipped, out / "skipped.txt"))
