"""`evaluate_run(RUN)`: every diagnostic on a trained run's validation images, into RUN/eval.json and
RUN/figures/. This is the whole of `vaelab evaluate`; the metric names are listed in docs/metrics.md.

Which images: the run's own validation split (the data, split fraction and seed of its config), or
with `data=SPEC` images of another source, resized to the model's input; at most `max_images` of
them, a seeded random subset when there are more. Reconstructions, interpolations, traversals and
the latent map use the posterior means; the likelihood bounds sample the posterior.

Numbers that a model cannot have are null, with the reason under "not_applicable": the plain
autoencoder has no posterior density, hence no KL, ELBO, IWAE or bits/dim.

A loss-conditional run (objective.beta_range) is evaluated at its validation beta, `objective.beta`, or
with `beta=B` at any beta of its range, as if it were a run trained at B (for sse, the ELBO is under
B's implied sigma). Those evaluations go to RUN/beta=B/: eval.json, figures/ (with reconstructions
and prior samples at B) and metrics.jsonl, holding the validation record that a run trained at B logs
at its end (the same pass over the validation split), so that B's point on the rate-distortion curve
reads like a separate run's.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.decomposition import PCA

from vaelab.config import Config
from vaelab.data import load_images, split_indices
from vaelab.defaults import IW_SAMPLES, MAX_IMAGES
from vaelab.diagnostics import aggregate, latent, likelihood, smoothness
from vaelab.diagnostics.reconstruction import reconstruction_quality
from vaelab.errors import UsageError
from vaelab.model import AtBeta, ConvVAE, at_beta
from vaelab.objectives import Objective
from vaelab.sweep.grid import format_value
from vaelab.training.batches import to_tensor
from vaelab.training.checkpoint import load_checkpoint
from vaelab.training.device import resolve_device
from vaelab.training.figures import N_RECONSTRUCTIONS, N_SAMPLES
from vaelab.training.loggers import JsonlLogger, read_metrics
from vaelab.training.run import build_objective
from vaelab.training.trainer import Trainer
from vaelab.viz import diagnostics as figures
from vaelab.viz.figures import plot_reconstructions, plot_samples
from vaelab.viz.report import refresh_report

log = logging.getLogger("vaelab")

SMOOTHNESS_PAIRS = 32  # pairs measured; the figure shows the first INTERPOLATION_ROWS
INTERPOLATION_ROWS = 8
INTERPOLATION_STEPS = 10
TRAVERSAL_DIMS = 8
TRAVERSAL_SPAN = 3.0  # aggregate-posterior standard deviations either side of the base code
TRAVERSAL_VALUES = 9
LIKELIHOOD_NAMES = ("elbo", "iwae", "bits_per_dim", "sigma", "sigma_optimal", "elbo_optimal_sigma",
                    "iwae_optimal_sigma", "bits_per_dim_optimal_sigma")
NO_DENSITY = "the autoencoder's posterior is a point mass: it has no density, so no KL to N(0, I) and no ELBO"


@dataclasses.dataclass
class EvaluationData:
    """The images evaluated, as floats (N, C, H, W) in [0, 1], with their labels where the data has any."""

    x: torch.Tensor
    labels: np.ndarray | None
    classes: list[str] | None
    source: str
    split: str  # "val": the run's validation images; "all": images of another source


def evaluate_run(
    run_dir: str | Path, *, iw_samples: int = IW_SAMPLES, data: str | None = None, checkpoint: str = "best",
    max_images: int = MAX_IMAGES, device: str = "cpu", seed: int = 0, write_figures: bool = True,
    beta: float | None = None,
) -> dict[str, Any]:
    """Evaluate `run_dir`'s checkpoint (`best` or `last`), write RUN/eval.json and figures, return the results;
    with `beta`, a loss-conditional run at that beta, into RUN/beta=B/ (see the module docstring)."""
    if iw_samples < 1:
        raise UsageError(f"--iw-samples {iw_samples} must be at least 1: e.g. --iw-samples 1000")
    if max_images < 2:
        raise UsageError(f"--max-images {max_images} must be at least 2")
    started = time.perf_counter()
    run_dir = Path(run_dir)
    torch_device = resolve_device(device)
    loaded = load_run(run_dir, checkpoint, torch_device, beta)
    state, config, network, objective = loaded.state, loaded.config, loaded.network, loaded.objective
    out = run_dir
    if beta is not None:
        out = evaluation_dir(run_dir, beta)
        out.mkdir(exist_ok=True)
        write_validation_record(out / "metrics.jsonl", loaded, torch_device)
    model = at_beta(network, config.objective.beta)
    image_shape = loaded.image_shape
    images = evaluation_data(config, data, image_shape, max_images, seed, torch_device)
    generator = torch.Generator(device=torch_device).manual_seed(seed)

    results: dict[str, Any] = {
        "run": str(run_dir), "checkpoint": checkpoint, "step": state["step"], "description": config.describe(),
        "model": model.kind, "recon": config.objective.recon, "beta": config.objective.beta,
        "beta_range": config.objective.beta_range,
        "latent_dim": model.latent_dim, "data": images.source, "split": images.split, "images": len(images.x),
        "pixels": math.prod(image_shape), "iw_samples": iw_samples, "seed": seed,
    }
    not_applicable: dict[str, str] = {}
    warnings: list[str] = []
    encodings = latent.encode(model, images.x)
    reconstruction = smoothness.decode_means(model, encodings.mean)
    results.update(quality_metrics(images.x, reconstruction, not_applicable))
    results.update(latent_metrics(encodings, generator, not_applicable, warnings))
    if model.kind == "vae":
        results.update(likelihood_metrics(model, objective, config, images.x, iw_samples, generator, not_applicable))
    else:
        for name in LIKELIHOOD_NAMES:
            results[name] = None
            not_applicable[name] = NO_DENSITY
    ratios, paths, pairs = interpolation_smoothness(model, encodings, seed)
    results["smoothness"] = float(np.nanmean(ratios)) if np.isfinite(ratios).any() else None
    results["smoothness_pairs"] = int(np.isfinite(ratios).sum())
    for warning in warnings:
        log.warning("%s: %s", run_dir, warning)
    results["warnings"] = warnings
    results["not_applicable"] = not_applicable
    if write_figures:
        results["figures"] = draw_figures(out, config, model, images, encodings, results, paths, ratios, pairs)
        if beta is not None:  # the run's own were drawn during training, at its validation beta
            results["figures"] += draw_served_figures(out, config, model, images, results)
    results["seconds"] = round(time.perf_counter() - started, 2)
    (out / "eval.json").write_text(json.dumps(_json_safe(results), indent=2) + "\n")
    if beta is None:  # the page shows RUN/eval.json, not the evaluations at other betas
        refresh_report(run_dir)
    return results


def evaluation_dir(run_dir: Path, beta: float) -> Path:
    """Where the evaluation of a loss-conditional run at `beta` goes: RUN/beta=B/."""
    return run_dir / f"beta={format_value(beta)}"


def config_at_beta(config: Config, beta: float, run_dir: Path) -> Config:
    """A loss-conditional run's config as if it had been trained at `beta` (which must lie in its range)."""
    if config.objective.beta_range is None:
        raise UsageError(f"{run_dir} was trained at beta = {config.objective.beta:g} alone: --beta needs a "
                         "loss-conditional run (vaelab train --beta-range LO:HI)")
    low, high = config.objective.beta_range
    if not low <= beta <= high:
        raise UsageError(f"--beta {beta:g} is outside the range {run_dir} was trained on, [{low:g}, {high:g}]: "
                         "give a beta inside it")
    return config.with_updates({"objective.beta": beta})


@dataclasses.dataclass
class LoadedRun:
    """A run's checkpoint rebuilt: its state, its config (at the beta evaluated), network and objective, and
    the image shape (C, H, W) the network takes."""

    state: dict[str, Any]
    config: Config
    network: ConvVAE
    objective: Objective
    image_shape: tuple[int, int, int]


def load_run(run_dir: Path, checkpoint: str, device: torch.device, beta: float | None = None) -> LoadedRun:
    """RUN/checkpoints/<checkpoint>.pt rebuilt for evaluation (eval mode); with `beta`, a loss-conditional
    run's config as if it had been trained at `beta`."""
    if not (run_dir / "config.yaml").exists():
        raise UsageError(f"{run_dir} is not a run directory (no config.yaml): "
                         f"train one with vaelab train --out {run_dir}")
    state = load_checkpoint(run_dir / "checkpoints" / f"{checkpoint}.pt", map_location=device)
    config = Config.from_dict(state["config"])
    if beta is not None:
        config = config_at_beta(config, beta, run_dir)
    network = ConvVAE(**state["model_hparams"]).to(device).eval()
    network.load_state_dict(state["model"])
    # The same numbers, faster: oneDNN's transposed convolutions run about 1.5x faster on the CPU with
    # channels-last weights, and the IWAE is a million decodes (benchmarks/evaluate.py).
    network = network.to(memory_format=torch.channels_last)
    hparams = state["model_hparams"]
    image_shape = (hparams["channels"], hparams["image_size"], hparams["image_size"])
    # Only the likelihood is used here; the run length matters to the cyclical beta schedule alone.
    objective = build_objective(config, image_shape, total_steps=max(1, state["step"])).to(device).eval()
    objective.load_state_dict(state["objective"])
    return LoadedRun(state=state, config=config, network=network, objective=objective, image_shape=image_shape)


def validate_at_beta(run_dir: str | Path, beta: float, *, checkpoint: str = "last", device: str = "cpu"
                     ) -> dict[str, Any]:
    """A loss-conditional run's validation record at `beta` alone, the cheap part of `evaluate_run(beta=...)`:
    the record a run trained at `beta` ends with, written to RUN/beta=B/metrics.jsonl and returned."""
    run_dir = Path(run_dir)
    torch_device = resolve_device(device)
    out = evaluation_dir(run_dir, beta)
    loaded = load_run(run_dir, checkpoint, torch_device, beta)
    out.mkdir(exist_ok=True)
    return write_validation_record(out / "metrics.jsonl", loaded, torch_device)


def write_validation_record(path: Path, loaded: LoadedRun, device: torch.device) -> dict[str, Any]:
    """The validation record a run trained at the loaded config's beta logs at the checkpoint's step (the
    trainer's own pass over the validation split), written as the only line of `path`."""
    config, step = loaded.config, loaded.state["step"]
    data = load_images(config.data)
    train_index, val_index = split_indices(len(data.images), config.data.val_fraction, config.data.split_seed)
    trainer = Trainer(config=config, model=loaded.network, objective=loaded.objective, images=data.images,
                      train_index=train_index, val_index=val_index, device=device, callbacks=[])
    trainer.step = step
    record = {"step": step, "epoch": trainer.epoch, "split": "val", **trainer.validate()}
    path.unlink(missing_ok=True)
    logger = JsonlLogger(path)
    logger.log_metrics(record, step)
    logger.close()
    return record


def evaluation_data(config: Config, spec: str | None, image_shape: tuple[int, int, int], max_images: int, seed: int,
                    device: torch.device) -> EvaluationData:
    """The run's validation images, or (with `spec`) images of another source at the model's size."""
    data_config = config.data
    if spec is not None:
        channels, size, _ = image_shape
        data_config = dataclasses.replace(config.data, spec=spec, image_size=size, channels=channels, limit=None)
        data_config.validate()
    data = load_images(data_config)
    if tuple(data.images.shape[1:]) != tuple(image_shape):
        raise UsageError(f"the images of {data_config.spec} are {data.images.shape[1:]}, the model takes "
                         f"{image_shape}: evaluate on data of the model's size")
    index = np.arange(len(data.images))
    split = "all"
    if spec is None:
        _, val_index = split_indices(len(data.images), config.data.val_fraction, config.data.split_seed)
        if len(val_index) >= 2:
            index, split = val_index, "val"
    if len(index) > max_images:
        index = np.sort(np.random.default_rng(seed).choice(index, size=max_images, replace=False))
    labels = None if data.labels is None else np.asarray(data.labels[index])
    x = to_tensor(data.images, index, device, channels_last=True)
    return EvaluationData(x=x, labels=labels, classes=data.classes, source=data.source, split=split)


def quality_metrics(x: torch.Tensor, reconstruction: torch.Tensor, not_applicable: dict[str, str]) -> dict[str, Any]:
    """mse (per pixel), psnr (dB) and ssim of the posterior-mean reconstructions, means over the images."""
    quality = reconstruction_quality(x, reconstruction)
    if quality.ssim is None:
        not_applicable["ssim"] = "SSIM's 11x11 window needs images of at least 11x11 pixels"
    return {
        "mse": float(quality.mse.mean()), "psnr": float(quality.psnr.mean()),
        "ssim": None if quality.ssim is None else float(quality.ssim.mean()),
    }


def latent_metrics(encodings: latent.Encodings, generator: torch.Generator, not_applicable: dict[str, str],
                   warnings: list[str]) -> dict[str, Any]:
    """Active units, KL per dimension, aggregate posterior against the prior, ELBO decomposition."""
    latent_dim = encodings.mean.shape[1]
    variance = latent.posterior_mean_variance(encodings)
    active = latent.active_units(encodings)
    mean, covariance = aggregate.aggregate_moments(encodings)
    bandwidth = aggregate.imq_bandwidth(latent_dim)
    prior_samples = torch.randn(encodings.mean.shape, generator=generator, device=encodings.mean.device)
    results = {
        "active_units": active, "active_threshold": latent.ACTIVE_THRESHOLD,
        "posterior_mean_variance": variance.tolist(),
        "aggregate_posterior_kl": aggregate.moment_matched_kl(mean, covariance),
        "aggregate_posterior_mmd": aggregate.mmd_imq(encodings.sample(generator), prior_samples, bandwidth),
        "mmd_kernel": "imq", "mmd_bandwidth": bandwidth,
    }
    if math.isinf(results["aggregate_posterior_kl"]):
        not_applicable["aggregate_posterior_kl"] = "the covariance of q(z) is singular: a dimension barely varies"
    if not encodings.gaussian:
        for name in ("kl", "kl_per_dim", "index_code_mi", "total_correlation", "dimensionwise_kl"):
            results[name] = None
            not_applicable[name] = NO_DENSITY
        return results
    if (warning := latent.collapse_warning(active, latent_dim)) is not None:
        warnings.append(warning)
    kl_dims = latent.kl_per_dim(encodings)
    decomposition = aggregate.elbo_decomposition(encodings, generator=generator)
    return {
        **results, "kl": float(kl_dims.sum()), "kl_per_dim": kl_dims.tolist(),
        "index_code_mi": decomposition.index_code_mi, "total_correlation": decomposition.total_correlation,
        "dimensionwise_kl": decomposition.dimensionwise_kl,
    }


def likelihood_metrics(model: ConvVAE | AtBeta, objective: Objective, config: Config, x: torch.Tensor,
                       iw_samples: int, generator: torch.Generator, not_applicable: dict[str, str]) -> dict[str, Any]:
    """beta = 1 ELBO, IWAE and bits/dim under the run's likelihood and under the optimal shared sigma."""
    pixels = math.prod(x.shape[1:])
    samples = likelihood.importance_samples(model, objective.likelihood, x, samples=iw_samples, generator=generator)
    sigma_optimal = likelihood.optimal_sigma(samples.squared_error, pixels)
    optimal = samples.log_weights(likelihood.gaussian_log_likelihood(samples.squared_error, sigma_optimal, pixels))
    own = samples.log_weights()
    sigma = objective.likelihood.sigma()
    if config.objective.recon == "sigma-optimal":
        # The run re-fits sigma to every batch; a density needs one sigma: the optimum over these images.
        own, sigma = optimal, sigma_optimal
    iwae = likelihood.iwae_bound(own, iw_samples)
    iwae_optimal = likelihood.iwae_bound(optimal, iw_samples)
    results = {
        "elbo": float(likelihood.iwae_bound(own, 1).mean()), "iwae": float(iwae.mean()),
        "bits_per_dim": float(likelihood.bits_per_dim(iwae, pixels).mean()),
        "sigma": sigma, "sigma_optimal": sigma_optimal,
        "elbo_optimal_sigma": float(likelihood.iwae_bound(optimal, 1).mean()),
        "iwae_optimal_sigma": float(iwae_optimal.mean()),
        "bits_per_dim_optimal_sigma": float(likelihood.bits_per_dim(iwae_optimal, pixels).mean()),
    }
    if config.objective.recon == "bernoulli":
        results["sigma"] = results["bits_per_dim"] = None
        not_applicable["sigma"] = "the Bernoulli likelihood has no sigma"
        not_applicable["bits_per_dim"] = ("the Bernoulli likelihood is not a density over pixel values in [0, 1] "
                                          "(Loaiza-Ganem & Cunningham 2019); see bits_per_dim_optimal_sigma")
    return results


def interpolation_smoothness(model: ConvVAE | AtBeta, encodings: latent.Encodings, seed: int
                             ) -> tuple[np.ndarray, torch.Tensor, np.ndarray]:
    """Path ratios (P,) of decoded interpolations between the means of P seeded pairs of images, the
    decoded paths (P, T + 1, C, H, W) and the pairs' indices (P, 2)."""
    n = len(encodings.mean)
    order = np.random.default_rng(seed).permutation(n)
    count = min(SMOOTHNESS_PAIRS, n // 2)
    pairs = np.stack([order[:count], order[count : 2 * count]], axis=1)  # (P, 2), disjoint images
    z = encodings.mean
    paths = smoothness.interpolation_paths(model, z[pairs[:, 0]], z[pairs[:, 1]], INTERPOLATION_STEPS)
    return smoothness.path_ratio(paths).cpu().numpy(), paths, pairs


@torch.no_grad()
def draw_figures(out: Path, config: Config, model: ConvVAE | AtBeta, images: EvaluationData,
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

    strength = kl if kl is not None else variance
    dims = [int(d) for d in np.argsort(-strength)[:TRAVERSAL_DIMS]]
    mean, covariance = aggregate.aggregate_moments(encodings)
    spread = covariance.diagonal().sqrt()
    offsets = torch.linspace(-TRAVERSAL_SPAN, TRAVERSAL_SPAN, TRAVERSAL_VALUES, dtype=torch.float64)
    values = (mean[dims, None] + spread[dims, None] * offsets).to(encodings.mean)  # (R, V)
    codes = smoothness.traversal_codes(encodings.mean[0], dims, values)
    figures.plot_traversals(smoothness.decode_means(model, codes).cpu().numpy(), dims, values.cpu().numpy(), kl,
                            directory / "traversals.png",
                            title=f"{title}\nthe first image's code with one dimension swept over "
                                  f"mean +- {TRAVERSAL_SPAN:g} sd of q(z)")
    written.append("traversals.png")

    means = encodings.mean.double().cpu().numpy()
    if means.shape[1] >= 2:
        pca = PCA(n_components=2, random_state=0).fit(means)
        points, explained = pca.transform(means), pca.explained_variance_ratio_
    else:
        points, explained = np.concatenate([means, np.zeros_like(means)], axis=1), np.array([1.0, 0.0])
    figures.plot_latent_map(points, images.labels, images.classes, explained, directory / "latent_map.png",
                            title=f"{title}\nposterior means of {len(means)} images ({images.split})")
    written.append("latent_map.png")

    metrics = read_metrics(out / "metrics.jsonl")
    if any("grad_recon_norm/all" in row for row in metrics):
        figures.plot_gradients(metrics, directory / "gradients.png", title=config.describe())
        written.append("gradients.png")
    return written


@torch.no_grad()
def draw_served_figures(out: Path, config: Config, model: AtBeta, images: EvaluationData, results: dict[str, Any]
                        ) -> list[str]:
    """OUT/figures/reconstructions.png and samples.png of a loss-conditional model at the beta it serves,
    as a run trained at that beta draws them at its end. Returns the file names written."""
    directory = out / "figures"
    title = f"{config.describe()} — step {results['step']}, shown at beta = {config.objective.beta:g}"
    x = images.x[:N_RECONSTRUCTIONS]
    plot_reconstructions(x, [("reconstruction", model(x, sample=False).reconstruction)],
                         directory / "reconstructions.png", title=title)
    generator = torch.Generator(device=x.device).manual_seed(0)
    z = torch.randn(N_SAMPLES, model.latent_dim, generator=generator, device=x.device)
    plot_samples(torch.sigmoid(model.decode(z)), directory / "samples.png", title=f"decodes of z ~ N(0, I) — {title}")
    return ["reconstructions.png", "samples.png"]


def _json_safe(value: Any) -> Any:
    """Non-finite floats become null (their reason is under "not_applicable" or is an infinite KL)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value
