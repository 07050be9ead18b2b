"""What every network of vaelab shares: its output, its posterior head, and conditioning on beta.

A network maps images x (B, C, H, W) in [0, 1] to the posterior q(z|x) and codes z (B, Z) back to logits
(B, C, H, W); the pixel mean is sigmoid(logits), which keeps Gaussian means in [0, 1] and lets the
Bernoulli likelihood use the numerically stable BCE-with-logits. With `kind="ae"` the bottleneck is a
point mass and the head outputs only the mean: the autoencoder is the same network minus the
log-variance head. A loss-conditional network (film_width given, Dosovitskiy & Djolonga 2020) takes the
beta to serve in every call and modulates its feature maps with FiLM layers (film.py). Every network owns
its prior p(z) (prior.py): N(0, I) unless `build_model` gives it another.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from vaelab.model.film import BetaEmbedding
from vaelab.model.posterior import DiagonalGaussian, PointMass
from vaelab.model.prior import GaussianMixture, NormalPrior, Prior, StandardNormal

ACTIVATIONS = {"silu": nn.SiLU, "relu": nn.ReLU}


@dataclass
class VAEOutput:
    """What a forward pass returns: the posterior, the latent sample(s) it drew and the decoder's logits, for a
    loss-conditional model the beta it served (one number, or one per example (B,)), and the prior of the
    objective's KL term (None: N(0, I)). With K samples per image z is (K, B, Z) and logits (K * B, C, H, W),
    sample k of image b at k * B + b."""

    posterior: DiagonalGaussian | PointMass
    z: torch.Tensor  # (B, Z), or (K, B, Z)
    logits: torch.Tensor  # (B, C, H, W), or (K * B, C, H, W)
    beta: float | torch.Tensor | None = None
    prior: StandardNormal | GaussianMixture | None = None

    @property
    def samples(self) -> int:
        """K, the codes drawn per image."""
        return self.z.shape[0] if self.z.dim() == 3 else 1

    @property
    def reconstruction(self) -> torch.Tensor:
        """The decoder's pixel means in [0, 1]. (B, C, H, W)"""
        return torch.sigmoid(self.logits)


class LatentModel(nn.Module):
    """The shared half of every network: subclasses set `kind`, `latent_dim`, `hparams` (every constructor
    argument, so that a checkpoint rebuilds the model alone), `embedding` (a BetaEmbedding or None) and
    implement `encode(x, beta)` and `decode(z, beta)`."""

    kind: str
    latent_dim: int
    hparams: dict
    embedding: BetaEmbedding | None
    prior: Prior

    def __init__(self) -> None:
        super().__init__()
        self.prior = NormalPrior()  # build.py's attach_prior sets another

    @torch.no_grad()
    def prior_density(self) -> StandardNormal | GaussianMixture | None:
        """The p(z) this model generates from (prior.py), for sampling and diagnostics (no gradient); None for a
        mixture not fitted yet."""
        return self.prior.density(self)

    @property
    def conditional(self) -> bool:
        """Loss-conditional: every call takes the beta to serve."""
        return self.embedding is not None

    def condition(self, beta: float | torch.Tensor | None, like: torch.Tensor) -> torch.Tensor | None:
        """The embedding c (B, film_width) of the beta served, or None for an unconditional network."""
        if self.conditional != (beta is not None):
            raise ValueError("a loss-conditional model needs the beta to serve, and only it takes one")
        if beta is None:
            return None
        return self.embedding(torch.as_tensor(beta, dtype=like.dtype, device=like.device).expand(len(like)))

    def posterior(self, head: torch.Tensor) -> DiagonalGaussian | PointMass:
        """q(z|x) from the head's output: (B, 2Z) mean and log-variance, or (B, Z) for a point mass."""
        if self.kind == "ae":
            return PointMass(head)
        mean, logvar = head.chunk(2, dim=1)  # (B, Z) each
        return DiagonalGaussian(mean, logvar)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None, sample: bool = True,
                beta: float | torch.Tensor | None = None, samples: int = 1) -> VAEOutput:
        """x (B, C, H, W) encoded once; `samples` = K > 1 codes drawn per image (IWAE), all decoded at once."""
        posterior = self.encode(x, beta)
        prior = self.prior.trained_density(self)
        if samples == 1:
            z = posterior.sample(generator) if sample else posterior.mode()
            return VAEOutput(posterior=posterior, z=z, logits=self.decode(z, beta), beta=beta, prior=prior)
        z = posterior.sample(generator, samples)  # (K, B, Z)
        served = beta.repeat(samples) if isinstance(beta, torch.Tensor) and beta.dim() == 1 else beta
        return VAEOutput(posterior=posterior, z=z, logits=self.decode(z.flatten(0, 1), served), beta=beta, prior=prior)
