"""The seed's simple convolutional VAE (`model.arch=plain`), and its plain-autoencoder twin.

The encoder halves the image with stride-2 convolutions until it is at most 4x4, a linear layer maps it
to the posterior's parameters, and the decoder mirrors the encoder with transposed convolutions back
to the exact input size (28, 32, 64, 128, 256 or any size >= 8). It is the network of vaelab's first
version, kept as the seed's "simple conv VAE" and for the throughput comparison with pythae; the
residual network (resnet.py) is the default. What every network shares (the output, the posterior
head, conditioning on beta): base.py.

With `film_width` the network is loss-conditional (Dosovitskiy & Djolonga 2020): a FiLM layer (film.py)
modulates the output of each convolution block of the encoder and of the decoder (all but the
decoder's last, which outputs the logits). `at_beta(model, beta)` (at_beta.py) fixes the beta, giving
the interface of an unconditional model to code that only needs one.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from vaelab.model.base import ACTIVATIONS, LatentModel
from vaelab.model.film import BetaEmbedding, FiLM
from vaelab.model.posterior import DiagonalGaussian, PointMass


def spatial_sizes(image_size: int) -> list[int]:
    """Feature-map sizes from the image down to the bottleneck, e.g. 28 -> [28, 14, 7, 4]."""
    sizes = [image_size]
    while sizes[-1] > 4:
        sizes.append(math.ceil(sizes[-1] / 2))  # conv k=3, s=2, p=1 gives ceil(n / 2)
    return sizes


class ConvVAE(LatentModel):
    """Convolutional encoder/decoder with a Gaussian (`kind="vae"`) or point-mass (`"ae"`) bottleneck;
    loss-conditional on beta through FiLM layers when `film_width` (the conditioning MLP's width) is given.

    Every constructor argument is kept in `self.hparams` so a checkpoint rebuilds the model alone.
    """

    def __init__(self, *, image_size: int, channels: int, latent_dim: int, width: int = 32, kind: str = "vae",
                 film_width: int | None = None, activation: str = "silu"):
        super().__init__()
        self.hparams = {"arch": "plain", "image_size": image_size, "channels": channels, "latent_dim": latent_dim,
                        "width": width, "kind": kind, "film_width": film_width, "activation": activation}
        act = ACTIVATIONS[activation]
        self.kind = kind
        self.latent_dim = latent_dim
        sizes = spatial_sizes(image_size)
        widths = [width * 2 ** min(i, 3) for i in range(len(sizes) - 1)]
        self.bottleneck_shape = (widths[-1], sizes[-1], sizes[-1])
        flat = widths[-1] * sizes[-1] ** 2

        encoder: list[nn.Module] = []
        for i, out_ch in enumerate(widths):
            in_ch = channels if i == 0 else widths[i - 1]
            encoder += [nn.Conv2d(in_ch, out_ch, 3, stride=2, padding=1), act()]
        self.encoder = nn.Sequential(*encoder, nn.Flatten())  # (B, flat)
        self.head = nn.Linear(flat, 2 * latent_dim if kind == "vae" else latent_dim)

        self.project = nn.Sequential(nn.Linear(latent_dim, flat), act())
        decoder: list[nn.Module] = []
        for i in reversed(range(len(widths))):
            out_ch = channels if i == 0 else widths[i - 1]
            # Transposed conv k=3, s=2, p=1 maps n to 2n - 1 + output_padding: pick the padding
            # that lands exactly on the encoder's size at this stage.
            output_padding = sizes[i] - (2 * sizes[i + 1] - 1)
            decoder.append(nn.ConvTranspose2d(widths[i], out_ch, 3, stride=2, padding=1, output_padding=output_padding))
            if i > 0:
                decoder.append(act())
        self.decoder = nn.Sequential(*decoder)

        self.embedding = None if film_width is None else BetaEmbedding(film_width)
        if film_width is not None:  # one FiLM per activation of each stack, in order
            self.encoder_films = nn.ModuleList(FiLM(film_width, out_ch) for out_ch in widths)
            self.decoder_films = nn.ModuleList(FiLM(film_width, widths[i - 1]) for i in reversed(range(1, len(widths))))

    def _modulated(self, layers: nn.Sequential, films: str, h: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        """`layers` applied to h; in a conditional model the FiLM layers named `films` modulate the input of
        each activation in turn, i.e. the output of each convolution block."""
        if c is None:
            return layers(h)
        remaining = iter(getattr(self, films))
        for layer in layers:
            if isinstance(layer, (nn.SiLU, nn.ReLU)):
                h = next(remaining)(h, c)
            h = layer(h)
        return h

    def encode(self, x: torch.Tensor, beta: float | torch.Tensor | None = None) -> DiagonalGaussian | PointMass:
        """x: (B, C, H, W) in [0, 1] -> q(z|x); a conditional model's beta: one number or (B,)."""
        features = self._modulated(self.encoder, "encoder_films", x, self.condition(beta, x))
        # The posterior's parameters in float32 under bf16 autocast: a KL near 50 nats in bf16 moves in
        # steps of 0.25 nats, and the noise and log-variance would be rounded as coarsely.
        with torch.autocast(x.device.type, enabled=False):
            return self.posterior(self.head(features.float()))

    def decode(self, z: torch.Tensor, beta: float | torch.Tensor | None = None) -> torch.Tensor:
        """z: (B, Z) -> logits (B, C, H, W); pixel means are sigmoid(logits); a conditional model's beta as in
        `encode`."""
        h = self.project(z).view(-1, *self.bottleneck_shape)
        return self._modulated(self.decoder, "decoder_films", h, self.condition(beta, z))

    @property
    def posterior_head(self) -> nn.Linear:
        """The linear layer whose output is the posterior's mean (and log-variance)."""
        return self.head

    @property
    def output_layer(self) -> nn.ConvTranspose2d:
        """The transposed convolution that outputs the logits."""
        return self.decoder[-1]

    @property
    def encoder_parameters(self) -> list[nn.Parameter]:
        films = [*self.encoder_films.parameters()] if self.conditional else []
        return [*self.encoder.parameters(), *self.head.parameters(), *films]

    @property
    def decoder_parameters(self) -> list[nn.Parameter]:
        """The decoder's own parameters (the beta embedding, which both halves share, is in neither list)."""
        films = [*self.decoder_films.parameters()] if self.conditional else []
        return [*self.project.parameters(), *self.decoder.parameters(), *films]
