"""Known answers for the KL estimate: the Monte Carlo estimator against the closed form, for N(0, I) and for a
Gaussian prior of another mean and variance, and the closed form chosen where it exists."""

import math

import torch

from vaelab.model.posterior import DiagonalGaussian
from vaelab.model.prior import GaussianMixture, StandardNormal
from vaelab.objectives.kl import CLOSED_FORM, kl_estimate, monte_carlo

MEAN = torch.tensor([[0.5, -1.0, 2.0], [0.0, 0.3, -0.7]])
LOGVAR = torch.tensor([[0.2, -1.5, 0.7], [0.0, 1.0, -0.3]])


def one_component(mean: torch.Tensor, logvar: torch.Tensor) -> GaussianMixture:
    """A Gaussian written as a one-component mixture: a prior the estimator must treat by Monte Carlo."""
    return GaussianMixture(torch.zeros(1), mean[None], logvar=logvar[None])


def test_monte_carlo_kl_matches_the_closed_form_for_the_standard_normal_prior():
    posterior = DiagonalGaussian(MEAN, LOGVAR)
    z = posterior.sample(torch.Generator().manual_seed(0), 200_000)  # (K, B, Z)
    closed = kl_estimate(posterior, z[0], StandardNormal(3))
    assert closed.estimator == CLOSED_FORM
    torch.testing.assert_close(closed.kl, posterior.kl())
    sampled = kl_estimate(posterior, z, one_component(torch.zeros(3), torch.zeros(3)))
    assert sampled.estimator == monte_carlo(200_000) and sampled.kl_per_dim is None
    se = sampled.log_ratio.std(dim=0) / math.sqrt(len(z))
    assert (sampled.kl - posterior.kl()).abs().max() < 4 * se.max()
    torch.testing.assert_close(sampled.kl, posterior.kl(), atol=0.02, rtol=0)


def test_monte_carlo_kl_matches_the_gaussian_closed_form_for_another_prior():
    # KL[N(m, s^2) || N(mu, t^2)] = log(t / s) + (s^2 + (m - mu)^2) / (2 t^2) - 1/2, per dimension
    mu, log_t2 = torch.tensor([1.0, 0.0, -2.0]), torch.tensor([0.5, -1.0, 1.5])
    posterior = DiagonalGaussian(MEAN, LOGVAR)
    s2, t2 = LOGVAR.exp(), log_t2.exp()
    expected = (0.5 * (log_t2 - LOGVAR) + (s2 + (MEAN - mu) ** 2) / (2 * t2) - 0.5).sum(dim=1)
    z = posterior.sample(torch.Generator().manual_seed(1), 200_000)
    sampled = kl_estimate(posterior, z, one_component(mu, log_t2))
    se = sampled.log_ratio.std(dim=0) / math.sqrt(len(z))
    assert (sampled.kl - expected).abs().max() < 4 * se.max()
    # one code: the estimate of each example is log q(z|x) - log p(z) at that code
    single = kl_estimate(posterior, z[0], one_component(mu, log_t2))
    torch.testing.assert_close(single.kl, posterior.log_prob(z[0]) - one_component(mu, log_t2).log_prob(z[0]))
