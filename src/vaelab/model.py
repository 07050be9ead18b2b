"""The convolutional VAE and its plain-autoencoder twin.

One network for both: the encoder halves the image with stride-2 convolutions until it is at most
4x4, a linear layer maps it to the posterior's parameters, and the decoder mirrors the encoder with
transposed convolutions back to the exact input size (28, 32, 64, 128, 256 or any size >= 8). With
`kind="ae"` the bottleneck is deterministic (a point mass) and the head outputs only the mean, so
the autoencoder is "the same network with the same parameters" minus the log-variance head.

The decoder returns logits; the pixel mean is sigmoid(logits), which keeps Gaussian means in [0, 1]
and lets the Bernoulli likelihood use the numerically stable BCE-with-logits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from vaelab.posterior import DiagonalGaussian, PointMass


def spatial_sizes(image_size: int) -> list[int]:
    """Feature-map sizes from the image down to the bottleneck, e.g. 28 -> [28, 14, 7, 4]."""
    sizes = [image_size]
    while sizes[-1] > 4:
        sizes.append(math.ceil(sizes[-1] / 2))  # conv k=3, s=2, p=1 gives ceil(n / 2)
    return sizes


@dataclass
class VAEOutput:
    """What a forward pass returns: the posterior, the latent sample it drew and the decoder's logits."""

    posterior: DiagonalGaussian | PointMass
    z: torch.Tensor  # (B, Z)
    logits: torch.Tensor  # (B, C, H, W)

    @property
    def reconstruction(self) -> torch.Tensor:
        """The decoder's pixel means in [0, 1]. (B, C, H, W)"""
        return torch.sigmoid(self.logits)


class ConvVAE(nn.Module):
    """Convolutional encoder/decoder with a Gaussian (`kind="vae"`) or point-mass (`"ae"`) bottleneck.

    Every constructor argument is kept in `self.hparams` so a checkpoint rebuilds the model alone.
    """

    def __init__(self, *, image_size: int, channels: int, latent_dim: int, width: int = 32, kind: str = "vae"):
        super().__init__()
        self.hparams = dict(image_size=image_size, channels=channels, latent_dim=latent_dim, width=width, kind=kind)
        self.kind = kind
        self.latent_dim = latent_dim
        sizes = spatial_sizes(image_size)
        widths = [width * 2 ** min(i, 3) for i in range(len(sizes) - 1)]
        self.bottleneck_shape = (widths[-1], sizes[-1], sizes[-1])
        flat = widths[-1] * sizes[-1] ** 2

        encoder: list[nn.Module] = []
        for i, out_ch in enumerate(widths):
            in_ch = channels if i == 0 else widths[i - 1]
            encoder += [nn.Conv2d(in_ch, out_ch, 3, stride=2, padding=1), nn.SiLU()]
        self.encoder = nn.Sequential(*encoder, nn.Flatten())  # (B, flat)
        self.head = nn.Linear(flat, 2 * latent_dim if kind == "vae" else latent_dim)

        self.project = nn.Sequential(nn.Linear(latent_dim, flat), nn.SiLU())
        decoder: list[nn.Module] = []
        for i in reversed(range(len(widths))):
            out_ch = channels if i == 0 else widths[i - 1]
            # Transposed conv k=3, s=2, p=1 maps n to 2n - 1 + output_padding: pick the padding
            # that lands exactly on the encoder's size at this stage.
            output_padding = sizes[i] - (2 * sizes[i + 1] - 1)
            decoder.append(nn.ConvTranspose2d(widths[i], out_ch, 3, stride=2, padding=1, output_padding=output_padding))
            if i > 0:
                decoder.append(nn.SiLU())
        self.decoder = nn.Sequential(*decoder)

    def encode(self, x: torch.Tensor) -> DiagonalGaussian | PointMass:
        """x: (B, C, H, W) in [0, 1] -> q(z|x)."""
        h = self.head(self.encoder(x))
        if self.kind == "ae":
            return PointMass(h)
        mean, logvar = h.chunk(2, dim=1)  # (B, Z) each
        return DiagonalGaussian(mean, logvar)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z: (B, Z) -> logits (B, C, H, W); pixel means are sigmoid(logits)."""
        h = self.project(z).view(-1, *self.bottleneck_shape)
        return self.decoder(h)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None, sample: bool = True) -> VAEOutput:
        posterior = self.encode(x)
        z = posterior.sample(generator) if sample else posterior.mode()
        return VAEOutput(posterior=posterior, z=z, logits=self.decode(z))

    @property
    def encoder_parameters(self) -> list[nn.Parameter]:
        return [*self.encoder.parameters(), *self.head.parameters()]

    @property
    def decoder_parameters(self) -> list[nn.Parameter]:
        return [*self.project.parameters(), *self.decoder.parameters()]
