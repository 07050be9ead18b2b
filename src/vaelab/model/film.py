"""FiLM conditioning on beta: how one network serves every KL weight (loss-conditional training).

Dosovitskiy & Djolonga 2020 ("You Only Train Once", sec. 3) feed the loss weight to the network with
FiLM layers (Perez et al. 2018): a small MLP embeds the weight, and after each convolution block a
per-channel scale and shift computed from that embedding modulate the feature map,

    c = MLP(log beta)                                  (B, H)    log: the betas span decades
    FiLM(h, c) = h * (1 + gamma(c)) + delta(c)         gamma, delta: (B, channels), one linear layer each

gamma and delta start at zero (their linear layer is zero-initialised), so an untrained FiLM layer is
the identity and a conditional network starts as exactly the unconditional one (tested).
"""

from __future__ import annotations

import torch
from torch import nn


class BetaEmbedding(nn.Module):
    """log beta -> c, a two-layer MLP: (B,) -> (B, width)."""

    def __init__(self, width: int):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(1, width), nn.SiLU(), nn.Linear(width, width), nn.SiLU())

    def forward(self, beta: torch.Tensor) -> torch.Tensor:
        return self.mlp(beta.log().unsqueeze(1))


class FiLM(nn.Module):
    """h * (1 + gamma(c)) + delta(c) per channel of a feature map h (B, channels, H, W), from c (B, width)."""

    def __init__(self, width: int, channels: int):
        super().__init__()
        self.to_gamma_delta = nn.Linear(width, 2 * channels)
        nn.init.zeros_(self.to_gamma_delta.weight)  # the identity until trained
        nn.init.zeros_(self.to_gamma_delta.bias)

    def forward(self, h: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        gamma, delta = self.to_gamma_delta(c)[:, :, None, None].chunk(2, dim=1)  # (B, channels, 1, 1) each
        return h * (1 + gamma) + delta
