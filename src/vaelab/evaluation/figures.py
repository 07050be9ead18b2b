"""The evaluation's figures: the decodes they need are computed here (traversals, the latent map's
projection), the drawing is vaelab.viz's."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from vaelab.config import Config
from vaelab.diagnostics import aggregate, latent, smoothness
from vaelab.evaluation.images import EvaluationData
from vaelab.run_dir import read_metrics
from vaelab.training.figures import N_RECONSTRUCTIONS, draw_model_figures
from vaelab.viz import diagnostics as figures

INTERPOLATION_ROWS = 8
TRAVERSAL_DIMS = 8
TRAVERSAL_SPAN = 3.0  # aggregate-posterior standard deviations either side of the base code
TRAVERSAL_VALUES = 9


@torch.no_grad()
def draw_figures(out: Path, config: Config, model: nn.Module, images: EvaluationData,
                 encodings: latent.Encodings, results: dict[str, Any], paths: torch.Tensor, ratios: np.ndarray,
                 pairs: np.ndarray) -> list[str]:
    """OUT/figures/: kl_per_dim.png, interpolations.png, traversals.png, latent_map.png, and gradients.png
    when OUT/metrics.jsonl holds gradient decompositions. Returns the file names written."""
    directory = out / "figures"
    directory.mkdir(parents=True, exist_ok=True)
    title = f"{config.describe()} — step {results['step']}"
    kl = None if results["kl_per_dim"] is None else np.array(results["kl_per_dim"])
    variance = np.array(results["posterior_mean_variance"])
    written = []

    figures.plot_kl_per_dim(kl, variance, latent.ACTIVE_THRESHOLD, directory / "kl_per_dim.png",
                            title=f"{title}\n{results['active_units']} of {len(variance)} dimensions active")
    written.append("kl_per_dim.png")

    rows = slice(0, INTERPOLATION_ROWS)
    ends = images.x[pairs[rows]].cpu().numpy()  # (rows, 2, C, H, W)
    figures.plot_interpolations(ends, paths[rows].cpu().numpy(), ratios[rows], directory / "interpolations.png",
                                title=f"{title}\nmean path ratio {results['smoothness'] or math.nan:.3f} "
                                      "(1 = straight)")
    written.append("interpolations.png")

    mean, covariance = aggregate.aggregate_moments(encodings)
    spread = covariance.diagonal().sqrt()
    offsets = torch.linspace(-TRAVERSAL_SPAN, TRAVERSAL_SPAN, TRAVERSAL_VALUES, dtype=torch.float64)
    all_values = (mean[:, None] + spread[:, None] * offsets).to(encodings.mean)  # (Z, V)
    dims = traversal_dims(model, encodings.mean[0], all_values, kl)
    values = all_values[dims]  # (R, V)
    codes = smoothness.traversal_codes(encodings.mean[0], dims, values)
    chosen = "the dimensions of largest KL" if kl is not None else "the dimensions that change the image most"
    figures.plot_traversals(smoothness.decode_means(model, codes).cpu().numpy(), dims, values.cpu().numpy(), kl,
                            directory / "traversals.png",
                            title=f"{title}\nthe first image's code with one dimension swept over "
                                  f"mean +- {TRAVERSAL_SPAN:g} sd of q(z); {chosen}")
    written.append("traversals.png")

    plane = latent.latent_plane(encodings.mean.double().cpu().numpy())
    figures.plot_latent_map(plane.points, images.labels, images.classes, plane.explained, directory / "latent_map.png",
                            title=f"{title}\nposterior means of {len(plane.points)} images ({images.split})")
    written.append("latent_map.png")

    metrics = read_metrics(out / "metrics.jsonl")
    if any("grad_recon_norm/encoder" in row for row in metrics):
        figures.plot_gradients(metrics, directory / "gradients.png", title=config.describe())
        written.append("gradients.png")
    return written


def traversal_dims(model: nn.Module, base: torch.Tensor, values: torch.Tensor, kl: np.ndarray | None) -> list[int]:
    """The TRAVERSAL_DIMS dimensions the traversals sweep: a VAE's of largest KL (what its codes pay for); an
    autoencoder's (no KL) those whose sweep changes the decoded image most: the mean absolute pixel change between
    the two ends of each dimension's span (`values`, (Z, V)) from the code `base` (Z,). An autoencoder's code scale
    says nothing of what its decoder uses: a dimension of large spread can leave the image as it is."""
    if kl is not None:
        return [int(d) for d in np.argsort(-kl)[:TRAVERSAL_DIMS]]
    dims = list(range(len(base)))
    ends = smoothness.decode_means(model, smoothness.traversal_codes(base, dims, values[:, [0, -1]]))  # (Z, 2, ...)
    change = (ends[:, 1] - ends[:, 0]).abs().flatten(1).mean(dim=1)  # (Z,)
    return [int(d) for d in torch.argsort(change, descending=True)[:TRAVERSAL_DIMS]]


def draw_served_figures(out: Path, config: Config, model: nn.Module, images: EvaluationData, results: dict[str, Any]
                        ) -> list[str]:
    """OUT/figures/reconstructions.png and samples.png of an evaluation in a folder of its own: a loss-conditional
    model at the beta it serves (as a run trained at that beta draws them at its end), or the run on another
    source's images. Returns the file names written."""
    title = f"{config.describe()} — step {results['step']}"
    if config.objective.beta_range is not None:
        title += f", shown at beta = {config.objective.beta:g}"
    if images.split != "val":
        title += ", images of --data"
    return draw_model_figures(model, images.x[:N_RECONSTRUCTIONS], out / "figures", title)
