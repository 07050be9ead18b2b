"""The residual convolutional VAE (`model.arch=resnet`, the default), and its autoencoder twin.

The encoder and decoder of the latent-diffusion autoencoders (Rombach et al. 2022, after Ho et al. 2020's
U-Net without its skips), with a vector latent z of `latent_dim` dimensions as the rest of vaelab uses:

    encoder  conv3x3 -> per resolution: `blocks` residual blocks, then a stride-2 conv3x3 to the next
             -> at the lowest resolution (<= 4x4, as in plain): residual block [+ self-attention] + residual
             block -> GroupNorm, activation -> flatten -> linear head to (mean, log-variance)
    decoder  linear -> the lowest resolution's feature map -> residual block [+ self-attention] + residual
             block -> per resolution, back up: `blocks` residual blocks, then nearest-neighbour upsampling
             to the next size + conv3x3 -> GroupNorm, activation -> conv3x3 to the image's channels (logits)

    residual block (He et al. 2016, pre-activation):  h + conv(act(norm(conv(act(norm(h))))))
                   with a 1x1 convolution on the skip where the channel count changes

Channels at resolution i are width * channel_mults[i] (default: doubling to 4x: 1, 2, 4, 4, ...).
Nearest-neighbour upsampling followed by a convolution has no checkerboard (Odena et al. 2016), unlike the
plain network's transposed convolutions. The upsampling lands on each encoder size exactly, so any
image size >= 8 works. In a loss-conditional network a FiLM layer modulates each residual block's output.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vaelab.model.base import ACTIVATIONS, LatentModel
from vaelab.model.conv import spatial_sizes
from vaelab.model.film import BetaEmbedding, FiLM
from vaelab.model.posterior import DiagonalGaussian, PointMass


def default_channel_mults(levels: int) -> list[int]:
    """1, 2, 4, 4, ...: the channels double twice, then stay (the cost of a level is channels^2 x pixels)."""
    return [min(2**i, 4) for i in range(levels)]


def group_norm(channels: int) -> nn.GroupNorm:
    """GroupNorm (Wu & He 2018) with groups of at least 4 channels, at most 32 groups."""
    groups = next(g for g in range(min(32, max(1, channels // 4)), 0, -1) if channels % g == 0)
    return nn.GroupNorm(groups, channels)


class ResidualBlock(nn.Module):
    """x + F(x), F = conv3x3(act(norm(conv3x3(act(norm(x)))))); a 1x1 conv on the skip if channels change."""

    def __init__(self, in_channels: int, out_channels: int, activation: type[nn.Module]):
        super().__init__()
        self.body = nn.Sequential(
            group_norm(in_channels), activation(), nn.Conv2d(in_channels, out_channels, 3, padding=1),
            group_norm(out_channels), activation(), nn.Conv2d(out_channels, out_channels, 3, padding=1),
        )
        self.skip = nn.Identity() if in_channels == out_channels else nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.skip(h) + self.body(h)


class SelfAttention(nn.Module):
    """Single-head self-attention over the positions of a feature map, with a residual connection:
    h + proj(softmax(q k^T / sqrt(C)) v), q, k, v = 1x1 convs of norm(h) (Vaswani et al. 2017; the LDM
    autoencoder's AttnBlock)."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm = group_norm(channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj = nn.Conv2d(channels, channels, 1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        b, c, height, width = h.shape
        q, k, v = self.qkv(self.norm(h)).reshape(b, 3, c, height * width).transpose(2, 3).unbind(1)  # (B, HW, C)
        attended = F.scaled_dot_product_attention(q, k, v)  # (B, HW, C)
        return h + self.proj(attended.transpose(1, 2).reshape(b, c, height, width))


class Upsample(nn.Module):
    """Nearest-neighbour upsampling to exactly `size` x `size`, then a 3x3 convolution."""

    def __init__(self, channels: int, size: int):
        super().__init__()
        self.size = size
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(h, size=(self.size, self.size), mode="nearest"))


class Stage(nn.Module):
    """Residual blocks (each followed by its FiLM in a conditional network), then an optional resampling."""

    def __init__(self, blocks: list[nn.Module], resample: nn.Module | None, film_width: int | None, channels: int):
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        residual = [str(i) for i, block in enumerate(blocks) if isinstance(block, ResidualBlock)]
        self.films = None if film_width is None else nn.ModuleDict({i: FiLM(film_width, channels) for i in residual})
        self.resample = resample if resample is not None else nn.Identity()

    def forward(self, h: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        for i, block in enumerate(self.blocks):
            h = block(h)
            if c is not None and str(i) in self.films:
                h = self.films[str(i)](h, c)
        return self.resample(h)


class ResNetVAE(LatentModel):
    """Residual encoder/decoder with a Gaussian (`kind="vae"`) or point-mass (`"ae"`) bottleneck; every
    constructor argument is kept in `hparams` so that a checkpoint rebuilds the model alone."""

    def __init__(self, *, image_size: int, channels: int, latent_dim: int, width: int = 32, kind: str = "vae",
                 film_width: int | None = None, activation: str = "silu", blocks: int = 1,
                 channel_mults: list[int] | None = None, attention: bool = False):
        super().__init__()
        sizes = spatial_sizes(image_size)  # e.g. 64 -> [64, 32, 16, 8, 4]
        mults = list(channel_mults) if channel_mults is not None else default_channel_mults(len(sizes))
        if len(mults) != len(sizes):
            raise ValueError(f"channel_mults needs one multiplier per resolution {sizes}, got {mults}")
        self.hparams = {"arch": "resnet", "image_size": image_size, "channels": channels, "latent_dim": latent_dim,
                        "width": width, "kind": kind, "film_width": film_width, "activation": activation,
                        "blocks": blocks, "channel_mults": mults, "attention": attention}
        self.kind = kind
        self.latent_dim = latent_dim
        act = ACTIVATIONS[activation]
        widths = [width * m for m in mults]
        low = widths[-1]
        self.bottleneck_shape = (low, sizes[-1], sizes[-1])
        flat = low * sizes[-1] ** 2

        def middle() -> list[nn.Module]:
            return [ResidualBlock(low, low, act), *([SelfAttention(low)] if attention else []),
                    ResidualBlock(low, low, act)]

        self.conv_in = nn.Conv2d(channels, widths[0], 3, padding=1)
        down = []
        for i, size in enumerate(sizes[:-1]):  # (B, widths[i], size, size) -> (B, widths[i + 1], ceil(size / 2), ...)
            stack = [ResidualBlock(widths[i], widths[i], act) for _ in range(blocks)]
            down.append(Stage(stack, nn.Conv2d(widths[i], widths[i + 1], 3, stride=2, padding=1), film_width,
                              widths[i]))
        down.append(Stage(middle(), None, film_width, low))
        self.down = nn.ModuleList(down)
        self.head = nn.Sequential(group_norm(low), act(), nn.Flatten(),
                                  nn.Linear(flat, 2 * latent_dim if kind == "vae" else latent_dim))

        self.project = nn.Linear(latent_dim, flat)
        up = [Stage(middle(), None, film_width, low)]
        for i in reversed(range(len(sizes) - 1)):  # (B, widths[i + 1], sizes[i + 1], ...) -> (B, widths[i], sizes[i])
            stack = [ResidualBlock(widths[i + 1], widths[i], act),
                     *(ResidualBlock(widths[i], widths[i], act) for _ in range(blocks - 1))]
            up.append(Stage(stack, Upsample(widths[i], sizes[i]), film_width, widths[i]))
        self.up = nn.ModuleList(up)
        self.conv_out = nn.Sequential(group_norm(widths[0]), act(), nn.Conv2d(widths[0], channels, 3, padding=1))
        self.embedding = None if film_width is None else BetaEmbedding(film_width)

    def encode(self, x: torch.Tensor, beta: float | torch.Tensor | None = None) -> DiagonalGaussian | PointMass:
        """x: (B, C, H, W) in [0, 1] -> q(z|x); a conditional model's beta: one number or (B,)."""
        c = self.condition(beta, x)
        h = self.conv_in(x)
        for stage in self.down:
            h = stage(h, c)
        return self.posterior(self.head(h))

    def decode(self, z: torch.Tensor, beta: float | torch.Tensor | None = None) -> torch.Tensor:
        """z: (B, Z) -> logits (B, C, H, W); pixel means are sigmoid(logits)."""
        c = self.condition(beta, z)
        h = self.project(z).view(-1, *self.bottleneck_shape)
        for stage in self.up:
            h = stage(h, c)
        return self.conv_out(h)

    @property
    def posterior_head(self) -> nn.Linear:
        """The linear layer whose output is the posterior's mean (and log-variance)."""
        return self.head[-1]

    @property
    def output_layer(self) -> nn.Conv2d:
        """The convolution that outputs the logits."""
        return self.conv_out[-1]

    @property
    def encoder_parameters(self) -> list[nn.Parameter]:
        return [*self.conv_in.parameters(), *self.down.parameters(), *self.head.parameters()]

    @property
    def decoder_parameters(self) -> list[nn.Parameter]:
        """The decoder's own parameters (the beta embedding, which both halves share, is in neither list)."""
        return [*self.project.parameters(), *self.up.parameters(), *self.conv_out.parameters()]

