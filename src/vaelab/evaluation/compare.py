"""Runs compared on the same images: each run's reconstructions of the first validation images of their
common data, for `vaelab runs compare`, `vaelab report DIR`, the demo and sweeps (the drawing is
vaelab.viz's)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vaelab.data import load_images, split_indices
from vaelab.errors import UsageError
from vaelab.model import at_beta
from vaelab.run_dir import RunSummary, read_run
from vaelab.run_dir.model import load_network
from vaelab.viz.figures import plot_reconstructions

Reconstructions = tuple[torch.Tensor, list[tuple[str, torch.Tensor]]]


@torch.no_grad()
def reconstruct(runs: list[RunSummary], n: int = 10) -> Reconstructions:
    """The first `n` validation images of the first run's data (n, C, H, W), and each run's reconstructions
    of them (posterior means through the decoder, from checkpoints/last.pt; a loss-conditional model's at
    the beta of the run's config). Every run must share that data."""
    data_config = runs[0].config.data
    different = [run.name for run in runs if run.config.data != data_config]
    if different:
        raise UsageError(f"{', '.join(different)} trained on other data than {runs[0].name}: "
                         "compare reconstructions of runs on the same data")
    data = load_images(data_config)
    _, val_index = split_indices(len(data.images), data_config.val_fraction, data_config.split_seed)
    index = val_index[:n] if len(val_index) else np.arange(min(n, len(data.images)))
    x = torch.from_numpy(np.ascontiguousarray(data.images[index])).float() / 255  # (n, C, H, W)
    rows = []
    for run in runs:
        network, _ = load_network(run.run_dir, "last")
        rows.append((run.name, at_beta(network, run.config.objective.beta)(x, sample=False).reconstruction))
    return x, rows


def reconstructions_if_comparable(runs: list[RunSummary], n: int = 8) -> Reconstructions | None:
    """`reconstruct(runs, n)`, or None where the runs' images cannot be shown side by side (runs on
    different data, or data that is no longer where the configs say)."""
    try:
        return reconstruct(runs, n)
    except UsageError:
        return None


def plot_run_reconstructions(runs: list[tuple[str, Path | RunSummary]], path: Path, *, n: int = 10,
                             title: str = "") -> None:
    """The same `n` validation images on the first row, then one row of reconstructions per
    (label, run directory or run read back); the runs must share their data (see `reconstruct`)."""
    summaries = [run if isinstance(run, RunSummary) else read_run(run) for _, run in runs]
    inputs, rows = reconstruct(summaries, n)
    plot_reconstructions(inputs, [(label, images) for (label, _), (_, images) in zip(runs, rows)], path, title=title)
