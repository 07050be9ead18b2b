"""The KL term KL[q(z|x) || p(z)] of one batch, asked of the posterior and the prior: in closed form when both
are Gaussian, by Monte Carlo otherwise.

    closed form   q(z|x) = N(mu, diag sigma^2), p(z) = N(0, I):
                  KL = sum_j -0.5 (1 + log sigma_j^2 - mu_j^2 - sigma_j^2)      (Kingma & Welling 2014, App. B)
    Monte Carlo   any prior (the VampPrior's mixture): with the codes z_k ~ q(z|x) the decoder was given,
                  KL ~ (1/K) sum_k [log q(z_k|x) - log p(z_k)]                   (Kingma & Welling 2014, eq. 6)

The Monte Carlo estimate is unbiased and noisy (its noise is part of the logged `kl` of a run with such a prior;
`vaelab evaluate` averages many codes per image and gives the standard error). Either way the per-code log ratios
log q(z_k|x) - log p(z_k) come along: the IWAE and beta-TCVAE objectives are written on them. `kl_estimator`
names the estimator in metrics.jsonl and eval.json.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from vaelab.model.posterior import DiagonalGaussian, PointMass
from vaelab.model.prior import GaussianMixture, StandardNormal

CLOSED_FORM = "closed form"
NO_KL = "none (point-mass posterior)"


def monte_carlo(samples: int) -> str:
    """The name of the Monte Carlo estimator with `samples` codes per image."""
    return f"monte carlo, {samples} sample{'s' if samples != 1 else ''} per image"


@dataclass
class KLEstimate:
    """The KL of each example of a batch and what it was computed from, in nats.

    kl:         KL[q(z|x) || p(z)] per example (B,): closed form, or the Monte Carlo mean over the K codes
    kl_per_dim: the closed form per latent dimension (B, Z); None where the prior does not factorise
    log_ratio:  log q(z_k|x) - log p(z_k) for each code (K, B): one-sample estimates of the KL
    estimator:  CLOSED_FORM, `monte_carlo(K)` or NO_KL
    """

    kl: torch.Tensor
    kl_per_dim: torch.Tensor | None
    log_ratio: torch.Tensor
    estimator: str


def kl_estimate(posterior: DiagonalGaussian | PointMass, z: torch.Tensor,
                prior: StandardNormal | GaussianMixture | None) -> KLEstimate:
    """The KL of `posterior` (B, Z) to `prior` (None: N(0, I)), with the codes z (B, Z) or (K, B, Z) drawn from it.

    The autoencoder's point mass has no KL term: zeros, as before (posterior.PointMass)."""
    codes = z if z.dim() == 3 else z[None]  # (K, B, Z)
    if isinstance(posterior, PointMass):
        zeros = torch.zeros(codes.shape[:2], device=z.device, dtype=z.dtype)
        return KLEstimate(kl=zeros[0], kl_per_dim=torch.zeros_like(posterior.mean), log_ratio=zeros, estimator=NO_KL)
    prior = StandardNormal(codes.shape[-1], codes.device) if prior is None else prior
    log_ratio = posterior.log_prob(codes) - prior.log_prob(codes)  # (K, B)
    if prior.standard:
        kl_per_dim = posterior.kl_per_dim()  # (B, Z)
        return KLEstimate(kl=kl_per_dim.sum(dim=1), kl_per_dim=kl_per_dim, log_ratio=log_ratio, estimator=CLOSED_FORM)
    return KLEstimate(kl=log_ratio.mean(dim=0), kl_per_dim=None, log_ratio=log_ratio,
                      estimator=monte_carlo(len(codes)))
