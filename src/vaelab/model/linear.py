"""A linear VAE: q(z|x) = N(A x + a, diag(exp(B x + b))), decoder mean W z + c. The network the analytic
answer to "what does beta do" is about (diagnostics/spectrum.py), with the interface the Trainer uses.

For SSE + beta KL, a linear VAE keeps exactly the directions of the data whose covariance eigenvalue
exceeds sigma^2 = beta / 2 (Lucas, Tucker, Grosse & Norouzi 2019, "Don't blame the ELBO!"; Dai, Wang,
Aston, Hua & Wipf 2018): it is probabilistic PCA with that noise level.

The likelihoods apply sigmoid to the decoder's output, so the decoder returns logits and the pixel mean is
sigmoid(W z + c). That is linear to first order around 0.5: sigmoid(u) = 1/2 + u/4 - u^3/48 + ..., whose
relative error is about u^2 / 12. Data whose pixels stay within +-0.1 of 0.5 (|u| <= 0.4) are then modelled
linearly to about 1.3%, which is what the known-answer test uses (tests/model/test_linear.py). Returning
the logit of a linear mean instead would be exact but undefined wherever W z + c leaves (0, 1).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from vaelab.model.base import LatentModel
from vaelab.model.posterior import DiagonalGaussian


class LinearVAE(LatentModel):
    """Linear encoder to (mean, log-variance), linear decoder to logits; images (C, H, W) flattened."""

    def __init__(self, *, image_size: int, channels: int, latent_dim: int):
        super().__init__()
        self.hparams = {"arch": "linear", "image_size": image_size, "channels": channels, "latent_dim": latent_dim}
        self.kind = "vae"
        self.latent_dim = latent_dim
        self.embedding = None
        self.image_shape = (channels, image_size, image_size)
        pixels = math.prod(self.image_shape)
        self.head = nn.Linear(pixels, 2 * latent_dim)  # (mean, log-variance)
        self.decoder = nn.Linear(latent_dim, pixels)

    def encode(self, x: torch.Tensor, beta: None = None) -> DiagonalGaussian:
        return self.posterior(self.head(x.flatten(1)))

    def decode(self, z: torch.Tensor, beta: None = None) -> torch.Tensor:
        return self.decoder(z).view(-1, *self.image_shape)  # logits (B, C, H, W)

    @property
    def posterior_head(self) -> nn.Linear:
        return self.head

    @property
    def encoder_parameters(self) -> list[nn.Parameter]:
        return [*self.head.parameters()]

    @property
    def decoder_parameters(self) -> list[nn.Parameter]:
        return [*self.decoder.parameters()]
