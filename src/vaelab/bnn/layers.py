"""Fully connected layers with a mean-field Gaussian posterior over their weights (Bayes by backprop),
sampled with the local reparameterisation trick; and their point-estimate twin for MAP networks.

Posterior and prior, per weight and bias (Blundell et al. 2015, "Weight Uncertainty in Neural Networks",
sec. 3.2; sigma = softplus(rho) keeps it positive):

    q(w) = N(mu, sigma^2),   p(w) = N(0, s^2)

Local reparameterisation (Kingma, Salimans & Welling 2015, "Variational Dropout and the Local
Reparameterization Trick", eq. 6): for an input row x, the pre-activations b = x W^T + c are Gaussian under q,

    b_k ~ N(gamma_k, delta_k),   gamma_k = sum_j x_j mu_kj + mu_c_k,   delta_k = sum_j x_j^2 sigma_kj^2 + sigma_c_k^2

so one standard normal per output and example replaces one per weight: each example sees its own weight
sample, and the gradient's variance falls with the batch.

KL between the two Gaussians, summed over every weight and bias (closed form, e.g. Kingma & Welling 2014,
Appendix B, with a prior std s):

    KL = sum log(s / sigma) + (sigma^2 + mu^2) / (2 s^2) - 1/2

and the entropy of q (which posterior tempering weighs separately, weighting.py):

    H[q] = sum 1/2 log(2 pi e sigma^2)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def softplus_inverse(value: float) -> float:
    """rho with softplus(rho) = value: log(e^value - 1), written to stay finite for small values."""
    return value + math.log(-math.expm1(-value))


class BayesLinear(nn.Module):
    """A linear layer whose weights are Gaussian under q, with prior N(0, prior_std^2) on every weight and bias."""

    def __init__(self, in_features: int, out_features: int, *, prior_std: float, posterior_std_init: float):
        super().__init__()
        self.in_features, self.out_features, self.prior_std = in_features, out_features, prior_std
        bound = 1 / math.sqrt(in_features)  # nn.Linear's initialisation of the means
        self.weight_mu = nn.Parameter(torch.empty(out_features, in_features).uniform_(-bound, bound))  # (K, J)
        self.bias_mu = nn.Parameter(torch.empty(out_features).uniform_(-bound, bound))  # (K,)
        rho = softplus_inverse(posterior_std_init)
        self.weight_rho = nn.Parameter(torch.full((out_features, in_features), rho))
        self.bias_rho = nn.Parameter(torch.full((out_features,), rho))

    @property
    def weight_sigma(self) -> torch.Tensor:
        return F.softplus(self.weight_rho)

    @property
    def bias_sigma(self) -> torch.Tensor:
        return F.softplus(self.bias_rho)

    def moments(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """gamma and delta (mean and variance of the pre-activations under q) for inputs x (B, J): (B, K) each."""
        gamma = F.linear(x, self.weight_mu, self.bias_mu)
        delta = F.linear(x.square(), self.weight_sigma.square(), self.bias_sigma.square())
        return gamma, delta

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None, *,
                sample: bool = True) -> torch.Tensor:
        """Pre-activations (B, K): one draw per example (local reparameterisation), or their mean (sample=False)."""
        gamma, delta = self.moments(x)
        if not sample:
            return gamma
        noise = torch.randn(gamma.shape, generator=generator, device=gamma.device, dtype=gamma.dtype)
        return gamma + delta.sqrt() * noise

    def kl(self) -> torch.Tensor:
        """KL(q || p) of all the layer's weights and biases, nats (the module docstring)."""
        s2 = self.prior_std ** 2
        total = torch.zeros((), device=self.weight_mu.device)
        for mu, sigma in ((self.weight_mu, self.weight_sigma), (self.bias_mu, self.bias_sigma)):
            total = total + (math.log(self.prior_std) - sigma.log() + (sigma.square() + mu.square()) / (2 * s2)
                             - 0.5).sum()
        return total

    def entropy(self) -> torch.Tensor:
        """H[q] of all the layer's weights and biases, nats."""
        log_sigma = torch.cat([self.weight_sigma.log().flatten(), self.bias_sigma.log().flatten()])
        return (0.5 * math.log(2 * math.pi * math.e) + log_sigma).sum()

    def unit_snr(self) -> torch.Tensor:
        """The signal-to-noise ratio of each output unit's incoming weights (K,), metrics.py:

            SNR_k = sqrt( sum_j mu_kj^2 / sum_j sigma_kj^2 )

        For standardised inputs (E x_j^2 = 1) it is the ratio of the std of the unit's pre-activation that the
        means carry to the std that the weight noise adds."""
        return (self.weight_mu.square().sum(1) / self.weight_sigma.square().sum(1)).sqrt()


class PointLinear(nn.Module):
    """The same layer with one weight value each (a MAP or ensemble member). Its penalty is the negative log
    prior: -log p(w) = sum w^2 / (2 s^2) + log s + 1/2 log(2 pi), i.e. weight decay with coefficient 1 / s^2."""

    def __init__(self, in_features: int, out_features: int, *, prior_std: float):
        super().__init__()
        self.in_features, self.out_features, self.prior_std = in_features, out_features, prior_std
        bound = 1 / math.sqrt(in_features)
        self.weight = nn.Parameter(torch.empty(out_features, in_features).uniform_(-bound, bound))  # (K, J)
        self.bias = nn.Parameter(torch.empty(out_features).uniform_(-bound, bound))  # (K,)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None, *,
                sample: bool = True) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias)

    def neg_log_prior(self) -> torch.Tensor:
        """-log p(w) of the layer's weights and biases under N(0, s^2), nats."""
        count = self.weight.numel() + self.bias.numel()
        squares = self.weight.square().sum() + self.bias.square().sum()
        return squares / (2 * self.prior_std ** 2) + count * (math.log(self.prior_std) + 0.5 * math.log(2 * math.pi))
