"""The objective: the one place where the reconstruction term and the KL term are weighed.

    loss = mean over the batch of  recon(x) + beta(step) * KL[q(z|x) || N(0, I)]

The trainer calls `Objective(x, output, step)` and gets `LossTerms` back: the weighted loss it
minimises, both terms, and the beta = 1 ELBO, so the two are never seen only as their sum.
State that must survive a restart (a learned sigma, GECO's multiplier) lives in this module's
`state_dict`, which goes into every checkpoint.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from vaelab.config import ObjectiveConfig
from vaelab.model import VAEOutput
from vaelab.objectives.likelihood import Bernoulli, FixedGaussian, Likelihood, SumSquaredError
from vaelab.objectives.terms import LossTerms


def make_likelihood(config: ObjectiveConfig, image_shape: tuple[int, int, int]) -> Likelihood:
    """The decoder likelihood named by `config.recon`, for images of shape (C, H, W)."""
    pixels = math.prod(image_shape)
    if config.recon in ("sse", "mse-mean"):
        return SumSquaredError(beta=config.beta, pixels=pixels, mean_over_pixels=config.recon == "mse-mean")
    if config.recon == "gaussian":
        return FixedGaussian(config.sigma)
    if config.recon == "bernoulli":
        return Bernoulli()
    raise ValueError(f"unknown reconstruction likelihood {config.recon!r}")


class Objective(nn.Module):
    """recon + beta * KL with the likelihood of `config.recon`; `deterministic=True` for the plain AE."""

    def __init__(self, config: ObjectiveConfig, *, image_shape: tuple[int, int, int], deterministic: bool = False):
        super().__init__()
        self.config = config
        self.deterministic = deterministic
        self.likelihood = make_likelihood(config, image_shape)

    def beta_at(self, step: int) -> float:
        """The KL weight at a training step (0 for the autoencoder, which has no KL term)."""
        return 0.0 if self.deterministic else self.config.beta

    def forward(self, x: torch.Tensor, output: VAEOutput, step: int) -> LossTerms:
        """x: (B, C, H, W) in [0, 1]; output: the model's forward pass on x."""
        recon = self.likelihood.recon(x, output.logits)  # (B,)
        kl = output.posterior.kl()  # (B,)
        beta = self.beta_at(step)
        loss = (recon + beta * kl).mean()
        with torch.no_grad():
            if self.deterministic:
                elbo = torch.full_like(recon, math.nan)  # a point-mass posterior has no finite ELBO
            else:
                elbo = -(self.likelihood.nll(x, output.logits) + kl)
            mse = (x - output.reconstruction).pow(2).flatten(1).mean(dim=1)
        return LossTerms(loss=loss, recon=recon, kl=kl, elbo=elbo, mse=mse, beta=beta, sigma=self.likelihood.sigma())
