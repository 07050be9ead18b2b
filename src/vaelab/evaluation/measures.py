"""The evaluation's numbers: each diagnostic (vaelab.diagnostics) applied to a trained model and its images,
under the names of docs/metrics.md. Numbers a model cannot have are None, with the reason in
`not_applicable`."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from vaelab.config import Config
from vaelab.diagnostics import aggregate, latent, likelihood, smoothness
from vaelab.diagnostics.reconstruction import reconstruction_quality
from vaelab.objectives import Objective

SMOOTHNESS_PAIRS = 32  # pairs measured; the figure shows the first INTERPOLATION_ROWS
INTERPOLATION_STEPS = 10
LIKELIHOOD_NAMES = ("elbo", "iwae", "bits_per_dim", "sigma", "sigma_optimal", "elbo_optimal_sigma",
                    "iwae_optimal_sigma", "bits_per_dim_optimal_sigma")
NO_DENSITY = "the autoencoder's posterior is a point mass: it has no density, so no KL to N(0, I) and no ELBO"


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


def likelihood_metrics(model: nn.Module, objective: Objective, config: Config, x: torch.Tensor,
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


def interpolation_smoothness(model: nn.Module, encodings: latent.Encodings, seed: int
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
