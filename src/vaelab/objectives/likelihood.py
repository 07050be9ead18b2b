"""Decoder likelihoods p(x|z): the reconstruction term as trained, and -log p(x|z) for the ELBO.

Every likelihood returns per-example values summed over the D = C*H*W pixels, in nats
(DESIGN.md). The decoder outputs logits; the pixel mean is sigmoid(logits).

The seed's loss, `sse` = sum (x - x_hat)^2, is a Gaussian likelihood in disguise: the Gaussian NLL
with std sigma is SSE / (2 sigma^2) + D log sigma + D/2 log(2 pi), so SSE + beta * KL is 2 sigma^2
times (NLL + KL) plus a constant when sigma^2 = beta / 2. `mse-mean` divides the SSE by D (PyTorch's
default reduction), which implies sigma^2 = beta * D / 2. The ELBO of these two is therefore
reported under that implied sigma.
"""

from __future__ import annotations

import abc
import math

import torch
import torch.nn.functional as F
from torch import nn

from vaelab.model.posterior import LOG_2PI
from vaelab.objectives.explain import implied_variance


def squared_error(x: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
    """sum over pixels of (x - mean)^2. (B, C, H, W) -> (B,)"""
    return (x - mean).pow(2).flatten(1).sum(dim=1)


def gaussian_nll_from_sse(sse: torch.Tensor, sigma: float, pixels: int) -> torch.Tensor:
    """-log N(x; mean, sigma^2 I) over D = `pixels` values from their summed squared error, in nats:

        SSE / (2 sigma^2) + D log sigma + D/2 log(2 pi)

    One shared sigma; written on the SSE so that one decoding pass serves every sigma. sigma = 0 (sse at
    beta = 0) is a point mass: an infinite NLL. Same shape as `sse`."""
    if sigma == 0:
        return torch.full_like(sse, math.inf)
    return sse / (2 * sigma**2) + pixels * (math.log(sigma) + 0.5 * LOG_2PI)


# The likelihood every run is also scored under, so that runs of any beta and any reconstruction term compare:
# the seed's loss at beta = 1, SSE + KL, is the negative ELBO of a Gaussian decoder with sigma^2 = 1/2 (up to the
# constant D/2 log pi). Each run's own beta = 1 ELBO (`elbo`) is under its own sigma (sse: sigma^2 = beta / 2).
SHARED_SIGMA = math.sqrt(0.5)


def elbo_shared_sigma(sse: torch.Tensor | float, kl: torch.Tensor | float, pixels: int) -> torch.Tensor | float:
    """The beta = 1 ELBO with the decoder read as a Gaussian of std SHARED_SIGMA (sigma^2 = 1/2), in nats:

        -(SSE / (2 sigma^2) + D log sigma + D/2 log(2 pi) + KL) = -(SSE + KL + D/2 log(pi))

    from the summed squared error of the decoded mean over the D = `pixels` values and the KL (tensors of one
    shape, or floats: a record's mse * D and kl). Kingma & Welling 2014 with the Gaussian of `gaussian_nll`."""
    return -(gaussian_nll_from_sse(sse, SHARED_SIGMA, pixels) + kl)


def gaussian_nll(x: torch.Tensor, mean: torch.Tensor, log_sigma: torch.Tensor) -> torch.Tensor:
    """-log N(x; mean, sigma^2) summed over pixels, in nats. (B, C, H, W) -> (B,)

    sum 0.5 * ((x - mean) / sigma)^2 + log sigma + 0.5 * log(2 pi). `log_sigma` broadcasts against
    x: a scalar (one shared sigma) or (C, 1, 1) (one per channel).
    """
    z = (x - mean) * torch.exp(-log_sigma)
    per_pixel = 0.5 * z.pow(2) + log_sigma + 0.5 * LOG_2PI
    return per_pixel.flatten(1).sum(dim=1)


class Likelihood(nn.Module, abc.ABC):
    """Interface: `recon` is the term as trained, `nll` is -log p(x|z) used in the beta = 1 ELBO."""

    @abc.abstractmethod
    def recon(self, x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        """The reconstruction term as trained, per example. (B,)"""

    @abc.abstractmethod
    def nll(self, x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        """-log p(x|z) in nats per example. (B,)"""

    def nll_given_recon(self, x: torch.Tensor, logits: torch.Tensor, recon: torch.Tensor) -> torch.Tensor:
        """`nll(x, logits)` when `recon = recon(x, logits)` is at hand (the objective's ELBO). (B,)

        A likelihood whose NLL follows from its recon term overrides this and saves a second pass
        over the pixels.
        """
        return self.nll(x, logits)

    def mse_given_recon(self, x: torch.Tensor, logits: torch.Tensor, recon: torch.Tensor) -> torch.Tensor:
        """Mean over the pixels of (x - sigmoid(logits))^2 when `recon` is at hand (see `nll_given_recon`). (B,)"""
        return (x - torch.sigmoid(logits)).pow(2).flatten(1).mean(dim=1)

    def sigma(self) -> float:
        """The decoder std this likelihood uses or implies (nan where there is none)."""
        return math.nan

    def logged_sigma(self) -> float | torch.Tensor:
        """`sigma()` as the step's logs take it: a detached tensor where it lives on the device (no host sync)."""
        return self.sigma()

    def metrics(self) -> dict[str, float | torch.Tensor]:
        """Further values to log at every step (e.g. one sigma per channel, as tensors); none by default."""
        return {}


class SumSquaredError(Likelihood):
    """The seed's `recon = sum (x - x_hat)^2` (or its per-pixel mean, `mse-mean`).

    As a Gaussian it has sigma^2 = beta / 2 (summed) or beta * D / 2 (averaged over the D pixels):
    the NLL under that sigma is what `nll` returns, so the ELBO is the bound this loss optimises
    once it is re-read as a likelihood. beta = 0 implies sigma = 0 and an ELBO of -inf.
    """

    def __init__(self, *, beta: float, pixels: int, mean_over_pixels: bool):
        super().__init__()
        self.pixels = pixels
        self.scale = 1.0 / pixels if mean_over_pixels else 1.0
        self.kind = "mse-mean" if mean_over_pixels else "sse"
        self.implied_sigma = math.sqrt(implied_variance(beta, recon=self.kind, pixels=pixels))

    def nll_at_weight(self, recon: torch.Tensor, beta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(-log p(x|z) per example, sigma) under the sigma that a KL weight `beta` in force implies (GECO's
        1 / lambda, which changes every step): sigma^2 = beta / 2 (sse) or beta * D / 2 (mse-mean), from the
        recon term (B,) of the step. beta: a 0-d tensor, so that no value leaves the device."""
        variance = implied_variance(beta, recon=self.kind, pixels=self.pixels)
        sse = recon / self.scale
        nll = sse / (2 * variance) + self.pixels * (0.5 * torch.log(variance) + 0.5 * LOG_2PI)
        return nll, variance.sqrt()

    def recon(self, x, logits):
        return self.scale * squared_error(x, torch.sigmoid(logits))

    def nll(self, x, logits):
        if self.implied_sigma == 0:
            return torch.full(x.shape[:1], math.inf, device=x.device)
        log_sigma = torch.tensor(math.log(self.implied_sigma), device=x.device)
        return gaussian_nll(x, torch.sigmoid(logits), log_sigma)

    def nll_given_recon(self, x, logits, recon):
        # `nll` in closed form from SSE = recon / scale
        return gaussian_nll_from_sse(recon / self.scale, self.implied_sigma, self.pixels)

    def mse_given_recon(self, x, logits, recon):
        return recon / (self.scale * self.pixels)

    def sigma(self):
        return self.implied_sigma


class FixedGaussian(Likelihood):
    """Gaussian decoder with a fixed std: recon = nll = sum 0.5((x - mu)/sigma)^2 + log sigma + 0.5 log 2pi."""

    def __init__(self, sigma: float):
        super().__init__()
        self.register_buffer("log_sigma", torch.tensor(math.log(sigma)))

    def recon(self, x, logits):
        return gaussian_nll(x, torch.sigmoid(logits), self.log_sigma)

    def nll(self, x, logits):
        return self.recon(x, logits)

    def nll_given_recon(self, x, logits, recon):
        return recon

    def sigma(self):
        return float(self.log_sigma.exp())


class Bernoulli(Likelihood):
    """Bernoulli decoder: -sum [x log p + (1 - x) log(1 - p)], p = sigmoid(logits).

    For pixels in [0, 1] that are not binary this is the continuous cross-entropy, not a normalised
    density (Loaiza-Ganem & Cunningham 2019); it is the common choice, reported as is.
    """

    def recon(self, x, logits):
        return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(dim=1)

    def nll(self, x, logits):
        return self.recon(x, logits)

    def nll_given_recon(self, x, logits, recon):
        return recon
