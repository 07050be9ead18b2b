"""A linear path beside the network, started at PCA (`model.linear_path`): the network learns what the linear
model cannot.

On a few hundred images a convolutional network starts far below the best linear model (PCA with the same
latent size) and needs thousands of steps to reach it. With the linear path, the code and the
reconstruction are each a linear map plus the network's own,

    mean(x)  = W_e (x - mu) + encoder(x)                      (the posterior's mean; its log-variance is the network's)
    x_hat(z) = sigmoid( logit(clip(mu + W_d z)) + decoder(z) )

with W_e, W_d and mu initialised from the training split's PCA (`initialise_from_pca`): W_e the top
latent_dim principal directions scaled to unit variance (the code of a whitened PCA, z ~ N(0, 1) per
dimension as the prior), W_d their inverse, mu the mean image; and the network's last layers at zero
(its posterior-mean head and its output convolution), so that the untrained model *is* PCA: its
reconstructions are PCA's (clipped to [0, 1]). Training then moves all of it. Both linear maps are trained
parameters; the clip keeps the logit finite (pixels within 1e-4 of 0 or 1).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from vaelab.model.base import LatentModel
from vaelab.model.posterior import DiagonalGaussian, PointMass

CLIP = 1e-4


class WithLinearPath(LatentModel):
    """`network` with the linear path of the module docstring; its hparams are the network's plus
    `linear_path: True`."""

    def __init__(self, network: LatentModel):
        super().__init__()
        self.network = network
        self.kind, self.latent_dim = network.kind, network.latent_dim
        self.hparams = {**network.hparams, "linear_path": True}
        self.embedding = network.embedding
        channels, size = network.hparams["channels"], network.hparams["image_size"]
        self.image_shape = (channels, size, size)
        pixels = channels * size * size
        self.encode_linear = nn.Linear(pixels, network.latent_dim, bias=False)
        self.decode_linear = nn.Linear(network.latent_dim, pixels, bias=False)
        self.register_buffer("mean_image", torch.full((pixels,), 0.5))

    @torch.no_grad()
    def initialise_from_pca(self, mean: np.ndarray, directions: np.ndarray, eigenvalues: np.ndarray) -> None:
        """mu, W_e = Lambda^(-1/2) U, W_d = U^T Lambda^(1/2) from a PCA of the training split (mean (D,),
        directions U (q, D), eigenvalues (q,), q <= latent_dim: the rest start at zero); the network's last
        layers to zero, so that the model starts as that PCA."""
        q = len(eigenvalues)
        scale = torch.as_tensor(np.sqrt(np.maximum(eigenvalues, 1e-12)), dtype=torch.float32)
        u = torch.as_tensor(directions, dtype=torch.float32)  # (q, D)
        self.mean_image.copy_(torch.as_tensor(mean, dtype=torch.float32))
        self.encode_linear.weight.zero_()
        self.decode_linear.weight.zero_()
        self.encode_linear.weight[:q] = u / scale[:, None]
        self.decode_linear.weight[:, :q] = u.T * scale
        head = self.network.posterior_head
        head.weight[: self.latent_dim].zero_()
        head.bias[: self.latent_dim].zero_()
        last = self.network.output_layer
        last.weight.zero_()
        last.bias.zero_()

    def encode(self, x: torch.Tensor, beta: float | torch.Tensor | None = None) -> DiagonalGaussian | PointMass:
        posterior = self.network.encode(x, beta)
        linear = self.encode_linear(x.flatten(1) - self.mean_image)  # (B, Z)
        if isinstance(posterior, PointMass):
            return PointMass(posterior.mean + linear)
        return DiagonalGaussian(posterior.mean + linear, posterior.logvar)

    def decode(self, z: torch.Tensor, beta: float | torch.Tensor | None = None) -> torch.Tensor:
        linear = (self.mean_image + self.decode_linear(z)).clamp(CLIP, 1 - CLIP).view(-1, *self.image_shape)
        return torch.logit(linear) + self.network.decode(z, beta)

    @property
    def posterior_head(self) -> nn.Linear:
        return self.network.posterior_head

    @property
    def output_layer(self) -> nn.Module:
        """The network's layer that outputs the logits (the linear path adds its own to them)."""
        return self.network.output_layer

    @property
    def encoder_parameters(self) -> list[nn.Parameter]:
        return [*self.network.encoder_parameters, self.encode_linear.weight]

    @property
    def decoder_parameters(self) -> list[nn.Parameter]:
        return [*self.network.decoder_parameters, self.decode_linear.weight]

