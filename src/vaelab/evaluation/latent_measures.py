"""The latent space's numbers in eval.json (docs/metrics.md): active units, KL per dimension, the aggregate
posterior against the prior and the ELBO decomposition, each with its interval and the N it used. A number
not valid at that N is None, with the reason in `not_applicable`; one that is reported but says little at
that N carries a `caveats` entry.

The aggregate posterior is held against N(0, I) (`aggregate_*`) and, for a run with a prior of its own (the
VampPrior, the fitted mixture), against that prior too (`aggregate_kl_q_prior`, `aggregate_kl_prior_q`): the
prior holes of both priors side by side. With such a prior the KL has no closed form: `kl` then comes with the
likelihood bounds (measures.py), a Monte Carlo mean over their codes."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from vaelab.config import Config
from vaelab.diagnostics import aggregate, latent
from vaelab.diagnostics.aggregate_kl import BOOTSTRAP, ESS_MIN, SAMPLES_PER_IMAGE, aggregate_kl
from vaelab.diagnostics.intervals import standard_error
from vaelab.diagnostics.spectrum import linear_prediction, pixel_spectrum
from vaelab.model.prior import GaussianMixture, StandardNormal
from vaelab.objectives import Objective
from vaelab.objectives.recon_loss import ReconstructionLoss

AGGREGATE_MAX_IMAGES = 2000  # the aggregate posterior's estimators hold (S N) x N log densities: a seeded subset
NO_DENSITY = "the autoencoder's posterior is a point mass: it has no density, so no KL to N(0, I) and no ELBO"
DENSITY_NAMES = ("kl", "kl_se", "kl_per_dim", "index_code_mi", "total_correlation", "dimensionwise_kl",
                 "index_code_mi_ci", "total_correlation_ci", "dimensionwise_kl_ci", "index_code_mi_cap",
                 "aggregate_kl_q_p", "aggregate_kl_q_p_ci", "aggregate_kl_q_p_loo", "aggregate_kl_q_p_loo_ci",
                 "aggregate_kl_p_q", "aggregate_kl_p_q_ci")
NOT_FACTORISED = "the run's prior (model.prior) is a mixture, which does not factorise over the latent dimensions"
# (eval.json name, AggregateKL field) of the prior-hole estimates against N(0, I) and against the run's own prior
AGGREGATE_KL = {"normal": (("aggregate_kl_q_p", "q_p"), ("aggregate_kl_q_p_loo", "q_p_loo"),
                           ("aggregate_kl_p_q", "p_q")),
                "own": (("aggregate_kl_q_prior", "q_p"), ("aggregate_kl_q_prior_loo", "q_p_loo"),
                        ("aggregate_kl_prior_q", "p_q"))}


def aggregate_subset(encodings: latent.Encodings, seed: int) -> latent.Encodings:
    """At most AGGREGATE_MAX_IMAGES of the encodings, a seeded subset."""
    n = len(encodings.mean)
    if n <= AGGREGATE_MAX_IMAGES:
        return encodings
    index = torch.from_numpy(np.sort(np.random.default_rng(seed).choice(n, AGGREGATE_MAX_IMAGES, replace=False)))
    index = index.to(encodings.mean.device)
    return latent.Encodings(encodings.mean[index], None if encodings.logvar is None else encodings.logvar[index])


def latent_metrics(encodings: latent.Encodings, generator: torch.Generator, seed: int, not_applicable: dict[str, str],
                   caveats: dict[str, str], warnings: list[str], per_image: dict[str, list[float]],
                   prior: StandardNormal | GaussianMixture | None = None) -> dict[str, Any]:
    """Active units, KL per dimension, the aggregate posterior against N(0, I) and against the run's `prior` (None or
    standard: N(0, I) alone), the ELBO decomposition."""
    latent_dim = encodings.mean.shape[1]
    variance = latent.posterior_mean_variance(encodings)
    active = latent.active_units(encodings)
    subset = aggregate_subset(encodings, seed)
    n = len(subset.mean)
    bandwidth = aggregate.imq_bandwidth(latent_dim)
    samples_q = subset.sample(generator)
    prior_samples = torch.randn(samples_q.shape, generator=generator, device=samples_q.device)
    results: dict[str, Any] = {
        "active_units": active, "active_threshold": latent.ACTIVE_THRESHOLD,
        "posterior_mean_variance": variance.tolist(),
        "aggregate_images": n, "aggregate_bootstrap": BOOTSTRAP,
        "aggregate_posterior_mmd": aggregate.mmd_imq(samples_q, prior_samples, bandwidth),
        "aggregate_posterior_mmd_ci": aggregate.mmd_interval(samples_q, prior_samples, bandwidth, seed=seed),
        "mmd_kernel": "imq", "mmd_bandwidth": bandwidth,
    }
    results.update(_moment_matched(subset, seed, not_applicable))
    own = prior is not None and not prior.standard
    if not encodings.gaussian:
        names = DENSITY_NAMES + tuple(f"{name}{ci}" for name, _ in AGGREGATE_KL["own"] for ci in ("", "_ci") if own)
        for name in names:
            results[name] = None
            not_applicable[name] = NO_DENSITY
        return results
    if (warning := latent.collapse_warning(active, latent_dim)) is not None:
        warnings.append(warning)
    if own:  # the KL comes with the likelihood bounds (measures.py); its closed form per dimension is N(0, I)'s
        results["kl_per_dim"] = None
        not_applicable["kl_per_dim"] = NOT_FACTORISED
    else:
        kl_dims = latent.kl_per_dim(encodings)
        kl_images = encodings.posterior().kl().double().cpu().numpy()
        per_image["kl"] = [float(v) for v in kl_images]
        results.update({"kl": float(kl_dims.sum()), "kl_se": standard_error(kl_images),
                        "kl_per_dim": kl_dims.tolist()})
    results.update(_decomposition(subset, generator, caveats))
    if own:  # MI and TC are q's own; the dimension-wise KL is against N(0, 1) marginals, not the run's prior
        results["dimensionwise_kl"] = results["dimensionwise_kl_ci"] = None
        not_applicable["dimensionwise_kl"] = not_applicable["dimensionwise_kl_ci"] = NOT_FACTORISED
    results.update(_monte_carlo_kl(subset, generator, seed, not_applicable, None, AGGREGATE_KL["normal"]))
    if own:
        results.update(_monte_carlo_kl(subset, generator, seed, not_applicable, prior, AGGREGATE_KL["own"]))
    return results


def _moment_matched(encodings: latent.Encodings, seed: int, not_applicable: dict[str, str]) -> dict[str, Any]:
    """The moment-only lower bound, withheld when N is not well above Z (aggregate.moment_matched_withheld)."""
    n, latent_dim = encodings.mean.shape
    reason = aggregate.moment_matched_withheld(n, latent_dim)
    if reason is not None:
        not_applicable["aggregate_posterior_kl"] = not_applicable["aggregate_posterior_kl_ci"] = reason
        return {"aggregate_posterior_kl": None, "aggregate_posterior_kl_ci": None}
    return {"aggregate_posterior_kl": aggregate.moment_matched_kl(*aggregate.aggregate_moments(encodings)),
            "aggregate_posterior_kl_ci": aggregate.moment_matched_interval(encodings, seed=seed)}


def _decomposition(encodings: latent.Encodings, generator: torch.Generator, caveats: dict[str, str]
                   ) -> dict[str, Any]:
    """MI, TC and DWKL with their intervals over the codes per image, log N beside MI, and the caveat when
    the mean KL exceeds log N (diagnostics.aggregate.elbo_decomposition)."""
    split = aggregate.elbo_decomposition(encodings, generator=generator)
    results = {"index_code_mi_cap": split.mi_cap, "decomposition_samples": split.samples}
    for name in ("index_code_mi", "total_correlation", "dimensionwise_kl"):
        results[name] = getattr(split, name)
        results[f"{name}_ci"] = getattr(split, f"{name}_ci")
    if not split.informative:
        text = (f"the mean KL ({split.kl:.3g} nats) exceeds log N = {split.mi_cap:.3g} for N = {len(encodings.mean)} "
                "images: the MI estimate cannot exceed log N, and what it misses is counted in TC and DWKL, so the "
                "split says little at this N")
        for name in ("index_code_mi", "total_correlation", "dimensionwise_kl"):
            caveats[name] = text
    return results


def _monte_carlo_kl(encodings: latent.Encodings, generator: torch.Generator, seed: int, not_applicable: dict[str, str],
                    prior: GaussianMixture | None, names: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    """KL(q || p) (self-inclusive and leave-one-out) and KL(p || q) of the mixture of posteriors against `prior`
    (None: N(0, I)) (diagnostics.aggregate_kl), under `names`, withheld with the reason where N images do not
    resolve q(z)."""
    estimate = aggregate_kl(encodings, generator=generator, seed=seed, prior=prior)
    if prior is not None:  # the ESS at the codes of q is the same whatever the prior; at the prior's codes it is not
        results: dict[str, Any] = {"aggregate_ess_prior": estimate.ess_p}
    else:
        results = {"aggregate_samples": SAMPLES_PER_IMAGE, "aggregate_ess_q": estimate.ess_q,
                   "aggregate_ess_p": estimate.ess_p, "aggregate_ess_min": ESS_MIN}
    for name, field in names:
        results[name] = getattr(estimate, field)
        results[f"{name}_ci"] = getattr(estimate, f"{field}_ci")
        if field in estimate.withheld:
            not_applicable[name] = not_applicable[f"{name}_ci"] = estimate.withheld[field]
    if prior is None and math.isnan(estimate.ess_q):
        not_applicable["aggregate_ess_q"] = "one image has no other images' posteriors to compare with"
    return results


def linear_vae_metrics(config: Config, objective: Objective, fit: torch.Tensor, not_applicable: dict[str, str]
                       ) -> dict[str, Any]:
    """What a linear VAE would keep at the run's weight, from the spectrum of the training images `fit`
    (diagnostics.spectrum): the noise variance in force sigma^2 (beta / 2 for sse; beta sigma^2 for a
    Gaussian decoder of its own sigma), the count of eigenvalues above it, the first eigenvalues and the beta
    at which each switches off. Withheld where no fixed Gaussian weight is in force."""
    names = ("linear_vae_dims", "linear_vae_threshold", "linear_vae_eigenvalues", "linear_vae_switch_off")
    objective_config = config.objective
    reason = None
    if objective_config.recon == "bernoulli":
        reason = "the linear VAE's answer is for a Gaussian decoder; this run's is Bernoulli"
    elif objective_config.recon == "l1" and objective_config.recon_extra is None:
        reason = "the linear VAE's answer is for a Gaussian decoder; this run's is Laplace (--recon l1)"
    elif isinstance(objective.likelihood, ReconstructionLoss):
        reason = "the linear VAE's answer is for a Gaussian decoder; this run's reconstruction term is no likelihood"
    elif objective_config.capacity is not None or objective_config.free_bits > 0:
        reason = "capacity control and free bits replace beta * KL: the linear VAE's threshold assumes that term"
    if reason is not None:
        not_applicable.update(dict.fromkeys(names, reason))
        return {**dict.fromkeys(names), "linear_vae_images": None}
    sigma = objective.sigma()
    beta = objective.beta_at(0)
    threshold = sigma**2 if objective_config.recon in ("sse", "mse-mean") else beta * sigma**2
    eigenvalues, images = pixel_spectrum((fit * 255).round().to(torch.uint8).cpu().numpy())
    prediction = linear_prediction(eigenvalues, threshold, beta=beta, images=images)
    return {"linear_vae_dims": prediction.kept, "linear_vae_threshold": threshold, "linear_vae_images": images,
            "linear_vae_eigenvalues": prediction.eigenvalues, "linear_vae_switch_off": prediction.switch_off}
