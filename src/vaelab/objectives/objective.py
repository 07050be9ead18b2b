"""The objective: the one place where the reconstruction term and the KL term are weighed.

    loss = mean over the batch of recon(x)  +  beta * kl_objective

The likelihood (likelihood.py, decoder_variance.py) gives the reconstruction term; the KL weighting
(weighting.py: a beta schedule, free bits, capacity control or GECO) gives beta and the KL term as
it enters the loss. A loss-conditional model (conditional.py) brings its own beta per example instead:
the betas it served, drawn here by `sample_beta`, weigh each example's KL. The trainer calls
`Objective(x, output, step)` and gets `LossTerms` back: the weighted loss it minimises, both terms,
the true KL and the beta = 1 ELBO, so the terms are never seen only as their sum. State that must
survive a restart (a learned sigma, GECO's multiplier) lives in this module's `state_dict`, which goes
into every checkpoint.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from vaelab.config import Config, ObjectiveConfig
from vaelab.model import VAEOutput
from vaelab.objectives.capacity import CapacityControl
from vaelab.objectives.conditional import LogUniformBeta
from vaelab.objectives.decoder_variance import LearnedSigmaGaussian, OptimalSigmaGaussian
from vaelab.objectives.explain import implied_variance
from vaelab.objectives.free_bits import FreeBits
from vaelab.objectives.geco import GECO
from vaelab.objectives.likelihood import Bernoulli, FixedGaussian, Likelihood, SumSquaredError, elbo_shared_sigma
from vaelab.objectives.schedules import BetaSchedule
from vaelab.objectives.terms import LossTerms
from vaelab.objectives.weighting import KLWeight, KLWeighting, ScheduledKL


def make_likelihood(config: ObjectiveConfig, image_shape: tuple[int, int, int]) -> Likelihood:
    """The decoder likelihood named by `config.recon`, for images of shape (C, H, W)."""
    pixels = math.prod(image_shape)
    channels = image_shape[0]
    if config.recon in ("sse", "mse-mean"):
        # Capacity control has no KL weight to read as a sigma (gamma |KL - C| pins the KL instead): its ELBO is
        # the one summed squared error means at beta = 1, sigma^2 = 1/2. GECO's sigma follows its weight in
        # force (Objective.forward).
        beta = 1.0 if config.capacity is not None else config.beta
        return SumSquaredError(beta=beta, pixels=pixels, mean_over_pixels=config.recon == "mse-mean")
    if config.recon == "gaussian":
        return FixedGaussian(config.sigma)
    if config.recon == "bernoulli":
        return Bernoulli()
    if config.recon == "sigma-learned":
        return LearnedSigmaGaussian(channels=channels, per_channel=config.sigma_per_channel, init_sigma=config.sigma)
    if config.recon == "sigma-optimal":
        return OptimalSigmaGaussian(channels=channels, per_channel=config.sigma_per_channel)
    raise ValueError(f"unknown reconstruction likelihood {config.recon!r}")


def make_kl_weighting(config: ObjectiveConfig, *, total_steps: int | None) -> KLWeighting:
    """The KL weighting the config names (a validated config names at most one of free bits, capacity, GECO)."""
    if config.geco_target is not None:
        return GECO.from_config(config)
    if config.capacity is not None:
        return CapacityControl.from_config(config)
    schedule = BetaSchedule.parse(config.beta_schedule, beta=config.beta, beta_start=config.beta_start,
                                  total_steps=total_steps)
    if config.free_bits > 0:
        return FreeBits(schedule, free_bits=config.free_bits, mode=config.free_bits_mode,
                        groups=config.free_bits_groups)
    return ScheduledKL(schedule)


class Objective(nn.Module):
    """recon + beta * kl_objective, composed from the config's likelihood and KL weighting.

    `total_steps` is the run's length, which the cyclical schedule divides into cycles.
    `deterministic=True` is the plain autoencoder: it has no KL term, so the loss is the recon term
    alone (beta = 0) and no KL weighting is built. With `objective.beta_range` the betas come with the
    model's output (loss-conditional training) and no KL weighting is built either.
    """

    def __init__(self, config: ObjectiveConfig, *, image_shape: tuple[int, int, int], deterministic: bool = False,
                 total_steps: int | None = None):
        super().__init__()
        self.config = config
        self.deterministic = deterministic
        self.pixels = math.prod(image_shape)
        self.likelihood = make_likelihood(config, image_shape)
        self.beta_range = None if config.beta_range is None else LogUniformBeta(*config.beta_range)
        conditional_or_ae = deterministic or self.beta_range is not None
        self.weighting = None if conditional_or_ae else make_kl_weighting(config, total_steps=total_steps)

    def beta_at(self, step: int) -> float:
        """The KL weight at a training step (0 for the autoencoder, which has no KL term; a loss-conditional
        model's validation beta)."""
        if self.beta_range is not None:
            return self.config.beta
        return 0.0 if self.weighting is None else self.weighting.beta_at(step)

    def sample_beta(self, n: int, generator: torch.Generator) -> torch.Tensor | None:
        """The betas of a training batch of n examples for a loss-conditional model (n,); None otherwise."""
        return None if self.beta_range is None else self.beta_range.sample(n, generator)

    def forward(self, x: torch.Tensor, output: VAEOutput, step: int) -> LossTerms:
        """x: (B, C, H, W) in [0, 1]; output: the model's forward pass on x."""
        recon = self.likelihood.recon(x, output.logits)  # (B,)
        kl_per_dim = output.posterior.kl_per_dim()  # (B, Z)
        kl = kl_per_dim.sum(dim=1)  # (B,)
        with torch.no_grad():
            mse = self.likelihood.mse_given_recon(x, output.logits, recon)  # (B,)
        if output.beta is not None:
            # Each example's KL weighed by the beta the model served it: mean_b [recon_b + beta_b * KL_b]
            weight = KLWeight(beta=output.beta, kl_objective=kl)
        elif self.weighting is None:
            weight = KLWeight(beta=0.0, kl_objective=kl.mean())  # the point mass's KL is zeros
        else:
            weight = self.weighting(recon=recon, kl=kl, kl_per_dim=kl_per_dim, mse=mse, step=step)
        loss = recon.mean() + (weight.beta * weight.kl_objective).mean()
        sigma = self.likelihood.logged_sigma()
        with torch.no_grad():
            if self.deterministic:
                # A point-mass posterior has no density: no KL, no ELBO, and no decoder sigma is stated.
                kl = elbo = elbo_shared = torch.full_like(recon, math.nan)
                sigma = math.nan
            else:
                elbo_shared = elbo_shared_sigma(mse * self.pixels, kl, self.pixels)
                if self._sigma_follows_weight():
                    nll, sigma = self.likelihood.nll_at_weight(recon.detach(), torch.as_tensor(weight.beta).double())
                    elbo = -(nll + kl)
                else:
                    elbo = -(self.likelihood.nll_given_recon(x, output.logits, recon) + kl)
        return LossTerms(
            loss=loss, recon=recon, kl=kl, elbo=elbo, elbo_shared_sigma=elbo_shared, mse=mse, beta=weight.beta,
            sigma=sigma, extras={**weight.extras, **self.likelihood.metrics()},
        )

    def _sigma_follows_weight(self) -> bool:
        """GECO with a squared error: the sigma the loss implies is that of the weight found, 1 / lambda."""
        return isinstance(self.weighting, GECO) and isinstance(self.likelihood, SumSquaredError)

    def sigma(self) -> float:
        """The decoder std in force now (nan where there is none, as for the autoencoder): under GECO with a squared
        error, the sigma of its current weight 1 / lambda; else the likelihood's (implied, fixed, learned or latest
        optimal)."""
        if self.deterministic:
            return math.nan
        if self._sigma_follows_weight():
            variance = implied_variance(self.weighting.beta_at(0), recon=self.likelihood.kind,
                                        pixels=self.likelihood.pixels)
            return math.sqrt(variance)
        return self.likelihood.sigma()


def build_objective(config: Config, image_shape: tuple[int, int, int], *, total_steps: int) -> Objective:
    """The objective of a run's config; `total_steps` is the run's length (cyclical beta schedules divide it)."""
    return Objective(config.objective, image_shape=image_shape, deterministic=config.model.kind == "ae",
                     total_steps=total_steps)
