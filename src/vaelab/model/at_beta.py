"""A loss-conditional model serving one beta, with the interface of an unconditional model."""

from __future__ import annotations

import torch
from torch import nn

from vaelab.model.base import LatentModel, VAEOutput
from vaelab.model.posterior import DiagonalGaussian, PointMass
from vaelab.model.prior import GaussianMixture, StandardNormal


class AtBeta(nn.Module):
    """A loss-conditional model serving one beta, with the interface of an unconditional model: what
    validation, figures and diagnostics see of it."""

    def __init__(self, model: LatentModel, beta: float):
        super().__init__()
        self.model = model
        self.beta = beta
        self.hparams, self.kind, self.latent_dim = model.hparams, model.kind, model.latent_dim

    def encode(self, x: torch.Tensor) -> DiagonalGaussian | PointMass:
        return self.model.encode(x, self.beta)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.model.decode(z, self.beta)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None, sample: bool = True,
                samples: int = 1) -> VAEOutput:
        return self.model(x, generator, sample, self.beta, samples)

    def prior_density(self) -> StandardNormal | GaussianMixture | None:
        return self.model.prior_density()

    @property
    def encoder_parameters(self) -> list[nn.Parameter]:
        return self.model.encoder_parameters

    @property
    def decoder_parameters(self) -> list[nn.Parameter]:
        return self.model.decoder_parameters


def at_beta(model: LatentModel, beta: float) -> LatentModel | AtBeta:
    """`model` as a network of one beta: a loss-conditional model serving `beta`, any other model as it is
    (its beta is the one it was trained at)."""
    return AtBeta(model, beta) if model.conditional else model
