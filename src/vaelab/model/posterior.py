"""The approximate posterior q(z|x): a diagonal Gaussian, or a point mass for the plain autoencoder.

Reduction convention (DESIGN.md): `kl()` and `kl_per_dim()` are per example; `kl()` sums over the
latent dimensions. Units are nats.
"""

from __future__ import annotations

import math

import torch

LOG_2PI = math.log(2 * math.pi)


def log_normal(z: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; mean, exp(logvar)) per dimension, not summed: -0.5 ((z - mean)^2 / var + log var + log 2 pi).
    Shapes broadcast."""
    return -0.5 * ((z - mean).pow(2) * torch.exp(-logvar) + logvar + LOG_2PI)


class DiagonalGaussian:
    """q(z|x) = N(mean, diag(std^2)), parameterised by the encoder's mean and log-variance.

    mean, logvar: (B, Z)
    """

    def __init__(self, mean: torch.Tensor, logvar: torch.Tensor):
        # float32 at least (float64 stays): under bf16 autocast the KL, the noise and log q(z|x) keep their precision
        self.mean = mean if mean.dtype == torch.float64 else mean.float()
        logvar = logvar if logvar.dtype == torch.float64 else logvar.float()
        # Clamp only against overflow in exp(): std in [2e-9, 5e8] is far outside anything a trained
        # encoder produces, so the gradient is unaffected in practice.
        self.logvar = logvar.clamp(-40.0, 40.0)

    @property
    def std(self) -> torch.Tensor:
        return torch.exp(0.5 * self.logvar)

    @property
    def var(self) -> torch.Tensor:
        return torch.exp(self.logvar)

    def sample(self, generator: torch.Generator | None = None, samples: int | None = None) -> torch.Tensor:
        """Reparameterised sample z = mean + std * eps, eps ~ N(0, I) (Kingma & Welling 2014, sec. 2.4). (B, Z),
        or (K, B, Z) for `samples` = K."""
        shape = self.mean.shape if samples is None else (samples, *self.mean.shape)
        eps = torch.randn(shape, generator=generator, device=self.mean.device, dtype=self.mean.dtype)
        return self.mean + self.std * eps

    def mode(self) -> torch.Tensor:
        """The most likely z: the mean. (B, Z)"""
        return self.mean

    def kl_per_dim(self) -> torch.Tensor:
        """KL[q(z_j|x) || N(0, 1)] for each latent dimension j, in nats. (B, Z)

        -0.5 * (1 + log(sigma^2) - mu^2 - sigma^2), Kingma & Welling 2014, Appendix B.
        """
        return -0.5 * (1.0 + self.logvar - self.mean.pow(2) - self.var)

    def kl(self) -> torch.Tensor:
        """KL[q(z|x) || N(0, I)] summed over latent dimensions, in nats per example. (B,)"""
        return self.kl_per_dim().sum(dim=1)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log q(z|x) summed over latent dimensions. z: (..., B, Z) -> (..., B)"""
        return log_normal(z, self.mean, self.logvar).sum(dim=-1)


class PointMass:
    """The plain autoencoder's deterministic bottleneck: q(z|x) puts all mass on the encoder's output.

    It has no KL to a prior (the KL of a point mass to N(0, I) is infinite); the autoencoder is trained
    on the reconstruction term alone, so `kl()` returns per-example zeros and the objective never
    weighs it.
    """

    def __init__(self, mean: torch.Tensor):
        self.mean = mean

    def sample(self, generator: torch.Generator | None = None, samples: int | None = None) -> torch.Tensor:
        return self.mean if samples is None else self.mean.expand(samples, *self.mean.shape)

    def mode(self) -> torch.Tensor:
        return self.mean

    def kl_per_dim(self) -> torch.Tensor:
        return torch.zeros_like(self.mean)

    def kl(self) -> torch.Tensor:
        return torch.zeros(self.mean.shape[0], device=self.mean.device, dtype=self.mean.dtype)

