"""The ELBO and IWAE against a model whose log p(x) is known, the ordering ELBO <= IWAE_K <= IWAE_K',
the Gaussian re-reading of the SSE, the optimal sigma and bits per dimension."""

import itertools
import math

import pytest
import torch

from vaelab.config import ObjectiveConfig
from vaelab.diagnostics.likelihood import (
    bits_per_dim,
    gaussian_log_likelihood,
    importance_samples,
    optimal_sigma,
)
from vaelab.model import ConvVAE
from vaelab.model.posterior import DiagonalGaussian
from vaelab.objectives import Likelihood, Objective, gaussian_nll
from vaelab.objectives.iwae import iwae_bound

A, S = 1.5, 0.5  # p(z) = N(0, 1), p(x|z) = N(A z, S^2): p(x) = N(0, A^2 + S^2), p(z|x) = N(c x, v)
C, V = A / (A**2 + S**2), S**2 / (A**2 + S**2)


class LinearGaussian:
    """A one-pixel "image" model with a known marginal likelihood; the encoder's q(z|x) is N(c x + shift, v * widen)."""

    latent_dim = 1

    def __init__(self, shift=0.0, widen=1.0):
        self.shift, self.widen = shift, widen

    def encode(self, x):
        mean = C * x.flatten(1) + self.shift  # (B, 1)
        return DiagonalGaussian(mean, torch.full_like(mean, math.log(V * self.widen)))

    def decode(self, z):
        return (A * z).view(-1, 1, 1, 1)  # the "logits" are the Gaussian's mean here


class IdentityGaussian(Likelihood):
    def recon(self, x, logits):
        return self.nll(x, logits)

    def nll(self, x, logits):
        return gaussian_nll(x, logits, torch.tensor(math.log(S)))


def log_marginal(x):
    variance = A**2 + S**2
    return -0.5 * (x.flatten() ** 2 / variance + math.log(2 * math.pi * variance))


X = torch.tensor([-2.0, -0.3, 0.0, 1.1, 2.5]).view(-1, 1, 1, 1)


def test_with_the_exact_posterior_every_weight_is_p_of_x():
    samples = importance_samples(LinearGaussian(), IdentityGaussian(), X, samples=50,
                                 generator=torch.Generator().manual_seed(0))
    expected = log_marginal(X).double()
    log_weights = samples.log_weights()
    torch.testing.assert_close(log_weights.double(), expected.expand(50, -1), atol=1e-5, rtol=0)
    torch.testing.assert_close(iwae_bound(log_weights, 1), expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(iwae_bound(log_weights, 50), expected, atol=1e-5, rtol=0)
    # under another likelihood (the shared or fitted sigma's) the weights take its log p(x|z) in place of the run's
    other = samples.log_likelihood - 3.0
    torch.testing.assert_close(samples.log_weights(other).double(), expected.expand(50, -1) - 3.0, atol=1e-5, rtol=0)


def test_with_a_wrong_posterior_the_bounds_tighten_towards_p_of_x():
    samples = importance_samples(LinearGaussian(shift=0.2, widen=2.0), IdentityGaussian(), X, samples=20000,
                                 generator=torch.Generator().manual_seed(0), decode_batch=4096)
    log_weights = samples.log_weights()
    elbo, iwae_10, iwae_all = (iwae_bound(log_weights, k) for k in (1, 10, 20000))
    exact = log_marginal(X).double()
    assert torch.all(elbo < iwae_10) and torch.all(iwae_10 < iwae_all)
    assert torch.all(elbo < exact - 0.3)  # the gap is KL[q(z|x) || p(z|x)], about 0.35 nats here
    torch.testing.assert_close(iwae_all, exact, atol=0.03, rtol=0)  # closed to within the Monte Carlo noise


def test_elbo_below_iwae_k_below_iwae_k_prime_on_every_batch_of_a_convolutional_vae():
    torch.manual_seed(0)
    model = ConvVAE(image_size=8, channels=1, latent_dim=3, width=4)
    objective = Objective(ObjectiveConfig(recon="sse", beta=0.5), image_shape=(1, 8, 8))
    generator = torch.Generator().manual_seed(0)
    for batch in range(3):
        x = torch.rand(5, 1, 8, 8)
        log_weights = importance_samples(model, objective.likelihood, x, samples=64, generator=generator,
                                         decode_batch=100).log_weights()
        assert log_weights.shape == (64, 5)
        bounds = [iwae_bound(log_weights, k) for k in (1, 4, 16, 64)]
        for lower, upper in itertools.pairwise(bounds):
            assert torch.all(lower <= upper), batch


def test_iwae_bound_known_answer():
    # weights 1 and 3: ELBO = (log 1 + log 3) / 2, IWAE_2 = log 2
    log_weights = torch.log(torch.tensor([[1.0], [3.0]]))
    assert iwae_bound(log_weights, 1).item() == pytest.approx(math.log(3) / 2)
    assert iwae_bound(log_weights, 2).item() == pytest.approx(math.log(2))
    # blocks: 4 samples, k = 2 -> the mean of log mean of (1, 3) and of (5, 7)
    log_weights = torch.log(torch.tensor([[1.0], [3.0], [5.0], [7.0]]))
    assert iwae_bound(log_weights, 2).item() == pytest.approx((math.log(2) + math.log(6)) / 2)


def test_the_sse_likelihood_is_the_gaussian_under_the_implied_sigma():
    torch.manual_seed(0)
    model = ConvVAE(image_size=8, channels=1, latent_dim=3, width=4)
    objective = Objective(ObjectiveConfig(recon="sse", beta=0.2), image_shape=(1, 8, 8))
    samples = importance_samples(model, objective.likelihood, torch.rand(4, 1, 8, 8), samples=10)
    sigma = objective.likelihood.sigma()
    assert sigma == pytest.approx(math.sqrt(0.2 / 2))
    torch.testing.assert_close(gaussian_log_likelihood(samples.squared_error, sigma, 64),
                               samples.log_likelihood.double(), rtol=1e-5, atol=1e-4)


def test_gaussian_log_likelihood_matches_gaussian_nll_and_the_optimal_sigma_maximises_it():
    torch.manual_seed(0)
    x, mean = torch.rand(6, 1, 4, 4), torch.rand(6, 1, 4, 4)
    sse = (x - mean).pow(2).flatten(1).sum(dim=1)
    for sigma in (0.05, 0.3, 1.0):
        expected = -gaussian_nll(x, mean, torch.tensor(math.log(sigma)))
        torch.testing.assert_close(gaussian_log_likelihood(sse, sigma, 16), expected.double(), rtol=1e-6, atol=1e-4)
    best = optimal_sigma(sse, 16)
    assert best == pytest.approx(math.sqrt(float((x - mean).pow(2).mean())), rel=1e-6)
    totals = [float(gaussian_log_likelihood(sse, s, 16).sum()) for s in (0.9 * best, best, 1.1 * best)]
    assert totals[1] > totals[0] and totals[1] > totals[2]


def test_bits_per_dim_known_answers():
    d = 100
    # density 1 on [0, 1]^D: each of the 255 bins of width 1/255 has probability 1/255 per pixel
    assert bits_per_dim(torch.tensor(0.0), d).item() == pytest.approx(math.log2(255))
    # a density of 255^D: all the probability in the image's bin, 0 bits
    assert bits_per_dim(torch.tensor(d * math.log(255), dtype=torch.float64), d).item() == pytest.approx(0.0, abs=1e-12)
    # one nat per pixel more is 1 / log 2 bits more
    assert (bits_per_dim(torch.tensor(-float(d)), d) - bits_per_dim(torch.tensor(0.0), d)).item() == pytest.approx(
        1 / math.log(2))
