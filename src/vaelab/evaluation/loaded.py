"""A trained run rebuilt for evaluation: its checkpoint's network and objective, at the run's beta or, for a
loss-conditional run, at any beta of its range; and the validation record a run at that beta logs."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vaelab.config import Config
from vaelab.data import load_images, split_indices
from vaelab.objectives import Objective, build_objective
from vaelab.objectives.conditional import check_beta
from vaelab.run_dir import RunDir, restoring, write_records
from vaelab.run_dir.model import load_network
from vaelab.training.device import resolve_device
from vaelab.training.trainer import epoch_of
from vaelab.training.validation import validate


@dataclasses.dataclass
class LoadedRun:
    """A run's checkpoint rebuilt: its state, its config (at the beta evaluated), network and objective, and
    the image shape (C, H, W) the network takes."""

    run: RunDir
    state: dict[str, Any]
    config: Config
    network: nn.Module
    objective: Objective
    image_shape: tuple[int, int, int]


def config_at_beta(config: Config, beta: float, run_dir: Path) -> Config:
    """A loss-conditional run's config as if it had been trained at `beta` (which must lie in its range)."""
    check_beta(config, beta, run_dir)
    return config.with_updates({"objective.beta": beta})


def load_run(run_dir: Path | RunDir, checkpoint: str, device: torch.device, beta: float | None = None) -> LoadedRun:
    """RUN/checkpoints/<checkpoint>.pt rebuilt for evaluation (eval mode); with `beta`, a loss-conditional
    run's config as if it had been trained at `beta`."""
    run = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    network, state = load_network(run, checkpoint, device)
    with restoring(run.checkpoint(checkpoint)):
        config, step = Config.from_saved(state["config"]), state["step"]
    if beta is not None:
        config = config_at_beta(config, beta, run.path)
    # The same numbers, faster: oneDNN's transposed convolutions run about 1.5x faster on the CPU with
    # channels-last weights, and the IWAE is a million decodes (benchmarks/evaluate.py).
    network = network.to(memory_format=torch.channels_last)
    image_shape = run.image_shape()
    # Only the likelihood is used here; the run length matters to the cyclical beta schedule alone.
    objective = build_objective(config, image_shape, total_steps=max(1, step)).to(device).eval()
    with restoring(run.checkpoint(checkpoint)):
        objective.load_state_dict(state["objective"])
    return LoadedRun(run=run, state=state, config=config, network=network, objective=objective,
                     image_shape=image_shape)


def validate_at_beta(run_dir: str | Path, beta: float, *, checkpoint: str = "last", device: str = "cpu"
                     ) -> dict[str, Any]:
    """A loss-conditional run's validation record at `beta` alone, the cheap part of `evaluate_run(beta=...)`:
    the record a run trained at `beta` ends with, written to RUN/beta=B/metrics.jsonl and returned."""
    run = RunDir(Path(run_dir))
    torch_device = resolve_device(device)
    loaded = load_run(run, checkpoint, torch_device, beta)
    out = run.at_beta(beta)
    out.path.mkdir(exist_ok=True)
    return write_validation_record(out.metrics_file, loaded, torch_device)


def write_validation_record(path: Path, loaded: LoadedRun, device: torch.device) -> dict[str, Any]:
    """The validation record a run trained at the loaded config's beta logs at the checkpoint's step (the
    training loop's own pass over the validation split), written as the only line of `path`."""
    config, step = loaded.config, loaded.state["step"]
    data = load_images(config.data)
    train_index, val_index = split_indices(len(data.images), config.data.val_fraction, config.data.split_seed)
    batch_size = min(config.training.batch_size, len(train_index))  # the training batch in force
    metrics = validate(loaded.network, loaded.objective, data.images, val_index, config=config, step=step,
                       device=device, batch_size=batch_size)
    record = {"step": step, "epoch": epoch_of(step, config.training, len(train_index)), "split": "val", **metrics,
              "kl_estimator": loaded.objective.kl_estimator}  # as the training loop's records name it
    write_records(path, [record])
    return record
