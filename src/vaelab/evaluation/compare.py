"""Runs compared on the same images and the same prior codes: each run's reconstructions of the first validation
images of their common data and its decodes of the same z ~ N(0, I), for `vaelab runs compare`, `vaelab report DIR`,
the demo and sweeps (the drawing is vaelab.viz's). Every run is read from the checkpoint of the rule
defaults.CHECKPOINT, as its evaluation is."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vaelab.data import load_images, split_indices
from vaelab.defaults import CHECKPOINT
from vaelab.errors import UsageError
from vaelab.model import at_beta
from vaelab.run_dir import RunSummary, read_run
from vaelab.run_dir.model import load_network
from vaelab.viz.figures import plot_reconstructions
from vaelab.viz.runs_page import Decoded

Reconstructions = tuple[torch.Tensor, list[tuple[str, torch.Tensor]]]
SAMPLES = 8  # prior codes each run decodes on the comparison pages


def served(run: RunSummary) -> torch.nn.Module:
    """The run's network at the checkpoint of the rule, serving the beta of its config (a loss-conditional model)."""
    network, _ = load_network(run.run_dir, CHECKPOINT)
    return at_beta(network, run.config.objective.beta)


@torch.no_grad()
def reconstruct(runs: list[RunSummary], n: int = 10, names: list[str] | None = None) -> Reconstructions:
    """The first `n` validation images of the first run's data (n, C, H, W), and each run's reconstructions
    of them (posterior means through the decoder; a loss-conditional model's at the beta of the run's config),
    labelled `names` (default: the runs' folder names). Every run must share that data."""
    names = names or [run.name for run in runs]
    data_config = runs[0].config.data
    different = [name for name, run in zip(names, runs) if run.config.data != data_config]
    if different:
        raise UsageError(f"{', '.join(different)} trained on other data than {names[0]}: "
                         "compare reconstructions of runs on the same data")
    data = load_images(data_config)
    _, val_index = split_indices(len(data.images), data_config.val_fraction, data_config.split_seed)
    index = val_index[:n] if len(val_index) else np.arange(min(n, len(data.images)))
    x = torch.from_numpy(np.ascontiguousarray(data.images[index])).float() / 255  # (n, C, H, W)
    return x, [(name, served(run)(x, sample=False).reconstruction) for name, run in zip(names, runs)]


@torch.no_grad()
def prior_samples(runs: list[RunSummary], names: list[str], n: int = SAMPLES) -> list[tuple[str, torch.Tensor]]:
    """Each run's decodes of the same n codes z ~ N(0, I) (seed 0, one draw per latent size), (n, C, H, W) each."""
    rows = []
    for name, run in zip(names, runs):
        model = served(run)
        z = torch.randn(n, model.latent_dim, generator=torch.Generator().manual_seed(0))
        rows.append((name, torch.sigmoid(model.decode(z))))
    return rows


def decode_for_page(runs: list[RunSummary], names: list[str]) -> Decoded | None:
    """What a comparison page shows of the networks: reconstructions of the same validation images (where the runs
    share their data and it is still where the configs say) and prior samples; None where no checkpoint is found."""
    try:
        samples = prior_samples(runs, names)
    except (UsageError, FileNotFoundError):
        return None
    try:
        inputs, reconstructions = reconstruct(runs, 8, names)
    except UsageError:
        inputs, reconstructions = None, []
    return Decoded(inputs=inputs, reconstructions=reconstructions, samples=samples)


def plot_run_reconstructions(runs: list[tuple[str, Path | RunSummary]], path: Path, *, n: int = 10,
                             title: str = "") -> None:
    """The same `n` validation images on the first row, then one row of reconstructions per
    (label, run directory or run read back); the runs must share their data (see `reconstruct`)."""
    summaries = [run if isinstance(run, RunSummary) else read_run(run) for _, run in runs]
    inputs, rows = reconstruct(summaries, n, [label for label, _ in runs])
    plot_reconstructions(inputs, rows, path, title=title)
