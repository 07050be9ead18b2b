"""The evaluation's numbers: each diagnostic (vaelab.diagnostics) applied to a trained model and its images,
under the names of docs/metrics.md, each mean with its standard error over the images (`<name>_se`), and
each image's value kept for paired comparisons of runs (`per_image`). Numbers a model cannot have are
None, with the reason in `not_applicable`. The latent space's numbers are latent_measures.py's."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from vaelab.config import Config
from vaelab.diagnostics import latent, smoothness
from vaelab.diagnostics import likelihood as likelihood_module
from vaelab.diagnostics.intervals import standard_error
from vaelab.diagnostics.reconstruction import reconstruction_quality
from vaelab.evaluation.latent_measures import NO_DENSITY
from vaelab.model.prior import GaussianMixture, StandardNormal
from vaelab.objectives import Objective
from vaelab.objectives.iwae import iwae_bound
from vaelab.objectives.likelihood import SHARED_SIGMA, Likelihood
from vaelab.objectives.recon_loss import ReconstructionLoss

__all__ = ["NO_DENSITY", "fitted_sigma", "interpolation_smoothness", "likelihood_metrics", "quality_metrics"]

SMOOTHNESS_PAIRS = 32  # pairs measured; the figure shows the first INTERPOLATION_ROWS
INTERPOLATION_STEPS = 10
FIT_SAMPLES = 4  # posterior samples per training image that fit the shared sigma
LIKELIHOOD_NAMES = ("elbo_shared_sigma", "iwae_shared_sigma", "elbo", "iwae", "bits_per_dim", "elbo_optimal_sigma",
                    "iwae_optimal_sigma", "bits_per_dim_optimal_sigma")
LIKELIHOOD_NAMES = (*LIKELIHOOD_NAMES, *(f"{name}_se" for name in LIKELIHOOD_NAMES), "sigma", "sigma_optimal",
                    "shared_sigma")


def with_standard_errors(values: dict[str, np.ndarray], per_image: dict[str, list[float]]) -> dict[str, Any]:
    """{name: mean, name_se: its standard error over the images}, and each image's value into `per_image`."""
    results = {}
    for name, array in values.items():
        results[name] = float(np.mean(array))
        results[f"{name}_se"] = standard_error(array)
        per_image[name] = [float(v) for v in array]
    return results


def quality_metrics(x: torch.Tensor, reconstruction: torch.Tensor, not_applicable: dict[str, str],
                    per_image: dict[str, list[float]]) -> dict[str, Any]:
    """mse (per pixel), psnr (dB) and ssim of the posterior-mean reconstructions: means over the images with
    their standard errors (`_se`)."""
    quality = reconstruction_quality(x, reconstruction)
    values = {"mse": quality.mse, "psnr": quality.psnr}
    if quality.ssim is None:
        not_applicable["ssim"] = not_applicable["ssim_se"] = "SSIM's 11x11 window needs images of at least 11x11 pixels"
        return {**with_standard_errors(values, per_image), "ssim": None, "ssim_se": None}
    return with_standard_errors({**values, "ssim": quality.ssim}, per_image)


def fitted_sigma(model: nn.Module, likelihood: Likelihood, fit: torch.Tensor, generator: torch.Generator
                 ) -> float:
    """The shared decoder sigma fitted on the images `fit` (a subset of the training split): sigma^2 = the mean
    squared error per pixel over FIT_SAMPLES posterior samples of each, the maximiser of their Gaussian ELBO."""
    samples = likelihood_module.importance_samples(model, likelihood, fit, samples=FIT_SAMPLES, generator=generator)
    return likelihood_module.optimal_sigma(samples.squared_error, math.prod(fit.shape[1:]))


def likelihood_metrics(model: nn.Module, objective: Objective, config: Config, x: torch.Tensor,
                       iw_samples: int, generator: torch.Generator, not_applicable: dict[str, str],
                       sigma_fitted: float, per_image: dict[str, list[float]],
                       prior: StandardNormal | GaussianMixture | None = None) -> dict[str, Any]:
    """beta = 1 ELBO and IWAE with the decoder read as a Gaussian of the sigma every run shares (SHARED_SIGMA,
    sigma^2 = 1/2), under the run's own likelihood (with bits/dim) and under the sigma fitted on its training split
    (`sigma_fitted`, with bits/dim), each a mean over the images of x with its standard error (`_se`), with the
    model's `prior` (None: N(0, I)). The same posterior samples serve every sigma. A prior without a closed-form KL
    (a mixture) adds `kl`, the Monte Carlo mean of log q(z|x) - log p(z) over the same `iw_samples` codes of each
    image, with its standard error over the images."""
    pixels = math.prod(x.shape[1:])
    samples = likelihood_module.importance_samples(model, objective.likelihood, x, samples=iw_samples,
                                                   generator=generator, prior=prior)
    shared = samples.log_weights(likelihood_module.gaussian_log_likelihood(samples.squared_error, SHARED_SIGMA,
                                                                           pixels))
    optimal = samples.log_weights(likelihood_module.gaussian_log_likelihood(samples.squared_error, sigma_fitted,
                                                                            pixels))
    own = samples.log_weights()
    sigma = objective.sigma()
    if config.objective.recon in ("sse", "mse-mean"):  # the sigma in force (GECO: its 1 / lambda's)
        own = samples.log_weights(likelihood_module.gaussian_log_likelihood(samples.squared_error, sigma, pixels))
    if config.objective.recon == "sigma-optimal":
        # The run re-fits sigma to every batch; a density needs one sigma: its rule over these images.
        sigma = likelihood_module.optimal_sigma(samples.squared_error, pixels)
        own = samples.log_weights(likelihood_module.gaussian_log_likelihood(samples.squared_error, sigma, pixels))
    iwae, iwae_optimal = iwae_bound(own, iw_samples), iwae_bound(optimal, iw_samples)
    values = {
        "elbo_shared_sigma": iwae_bound(shared, 1), "iwae_shared_sigma": iwae_bound(shared, iw_samples),
        "elbo": iwae_bound(own, 1), "iwae": iwae,
        "bits_per_dim": likelihood_module.bits_per_dim(iwae, pixels),
        "elbo_optimal_sigma": iwae_bound(optimal, 1), "iwae_optimal_sigma": iwae_optimal,
        "bits_per_dim_optimal_sigma": likelihood_module.bits_per_dim(iwae_optimal, pixels),
    }
    if prior is not None and not prior.standard:
        values["kl"] = -samples.log_prior_ratio.double().mean(dim=0)  # (B,): mean over the K codes of each image
    results = with_standard_errors({name: value.cpu().numpy() for name, value in values.items()}, per_image)
    results.update(sigma=sigma, sigma_optimal=sigma_fitted, shared_sigma=SHARED_SIGMA)
    if isinstance(objective.likelihood, ReconstructionLoss):
        reason = (f"the reconstruction term ({config.objective.describe_recon()}) is no likelihood: see "
                  "elbo_optimal_sigma")
        for name in ("elbo", "iwae", "bits_per_dim"):
            results[name] = results[f"{name}_se"] = None
            per_image.pop(name)
            not_applicable[name] = not_applicable[f"{name}_se"] = reason
        results["sigma"], not_applicable["sigma"] = None, reason
    if config.objective.recon == "bernoulli":
        for name in ("sigma", "bits_per_dim", "bits_per_dim_se"):
            results[name] = None
        per_image.pop("bits_per_dim")
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
