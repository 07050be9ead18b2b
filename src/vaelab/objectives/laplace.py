"""`--recon l1`: the summed absolute error, a Laplace decoder in disguise.

The Laplace NLL with scale b, summed over the D pixel values, is

    -log Laplace(x; mu, b) = sum |x - mu| / b + D log(2 b)

so the L1 loss with a KL weight beta is, with b = beta,

    L1 + beta * KL  =  beta * [ -log Laplace(x; x_hat, b) + KL ]  -  beta * D log(2 beta)

the same identity as sigma^2 = beta / 2 for the summed squared error (likelihood.py): under Adam the factor
beta does not change the training, and the objective is the beta = 1 ELBO of a Laplace decoder with scale
b = beta, whose standard deviation is sqrt(2) b. That ELBO is what the run logs as `elbo`, and sqrt(2) b as
`sigma`. The latent-diffusion autoencoders train this term (plus LPIPS and a GAN) at beta = 1e-6, i.e. b = 1e-6.
"""

from __future__ import annotations

import math

import torch

from vaelab.objectives.likelihood import Likelihood


def absolute_error(x: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
    """sum over pixels of |x - mean|. (B, C, H, W) -> (B,)"""
    return (x - mean).abs().flatten(1).sum(dim=1)


def laplace_nll_from_l1(l1: torch.Tensor, scale: float, pixels: int) -> torch.Tensor:
    """-log Laplace(x; mean, b) over D = `pixels` values from their summed absolute error, in nats:

        L1 / b + D log(2 b)

    b = 0 (l1 at beta = 0) is a point mass: an infinite NLL. Same shape as `l1`."""
    if scale == 0:
        return torch.full_like(l1, math.inf)
    return l1 / scale + pixels * math.log(2 * scale)


class LaplaceL1(Likelihood):
    """recon = sum |x - x_hat|; read as a Laplace decoder of scale b = beta (of beta = 1 under capacity control,
    which has no KL weight to read)."""

    def __init__(self, *, scale: float, pixels: int):
        super().__init__()
        self.scale = scale
        self.pixels = pixels

    def recon(self, x, logits):
        return absolute_error(x, torch.sigmoid(logits))

    def nll(self, x, logits):
        return self.nll_given_recon(x, logits, self.recon(x, logits))

    def nll_given_recon(self, x, logits, recon):
        return laplace_nll_from_l1(recon, self.scale, self.pixels)

    def sigma(self):
        """The Laplace decoder's standard deviation, sqrt(2) b."""
        return math.sqrt(2) * self.scale
