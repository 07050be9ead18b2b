"""Bayes-by-backprop layers: the local reparameterisation's moments, the KL and the entropy (bnn/layers.py)."""

import math

import pytest
import torch

from vaelab.bnn.layers import BayesLinear, PointLinear, softplus_inverse


def _layer(seed: int = 0) -> BayesLinear:
    torch.manual_seed(seed)
    layer = BayesLinear(4, 3, prior_std=0.7, posterior_std_init=0.1)
    with torch.no_grad():
        layer.weight_mu.normal_()
        layer.weight_rho.uniform_(-2, 0.5)
        layer.bias_mu.normal_()
        layer.bias_rho.uniform_(-2, 0.5)
    return layer


def test_local_reparameterisation_samples_have_the_closed_form_mean_and_variance():
    """b_k ~ N(sum_j x_j mu_kj + mu_c, sum_j x_j^2 sigma_kj^2 + sigma_c^2) (Kingma, Salimans & Welling 2015)."""
    layer = _layer()
    x = torch.tensor([[1.0, -2.0, 0.5, 0.0], [0.3, 0.3, -1.0, 2.0]])
    draws = 40_000
    with torch.no_grad():
        samples = layer(x.repeat(draws, 1), torch.Generator().manual_seed(1)).reshape(draws, 2, 3)
        mu, sigma, bias_mu, bias_sigma = layer.weight_mu, layer.weight_sigma, layer.bias_mu, layer.bias_sigma
    mean = x @ mu.T + bias_mu  # (2, 3), written out here rather than through layer.moments
    variance = x.square() @ sigma.square().T + bias_sigma.square()
    # 5 standard errors: SE(mean) = sqrt(var / n), SE(var) = var sqrt(2 / (n - 1)) for Gaussian draws
    assert torch.all((samples.mean(0) - mean).abs() < 5 * (variance / draws).sqrt())
    assert torch.all((samples.var(0) - variance).abs() < 5 * variance * math.sqrt(2 / (draws - 1)))
    assert torch.equal(layer(x, sample=False), layer.moments(x)[0])


def test_kl_and_entropy_match_torch_distributions():
    layer = _layer()
    with torch.no_grad():
        q = [torch.distributions.Normal(layer.weight_mu, layer.weight_sigma),
             torch.distributions.Normal(layer.bias_mu, layer.bias_sigma)]
        prior = torch.distributions.Normal(0.0, 0.7)
        kl = sum(torch.distributions.kl_divergence(part, prior).sum() for part in q)
        entropy = sum(part.entropy().sum() for part in q)
        assert layer.kl().item() == pytest.approx(kl.item(), rel=1e-5)
        assert layer.entropy().item() == pytest.approx(entropy.item(), rel=1e-5)


def test_the_kl_is_zero_when_the_posterior_is_the_prior():
    layer = BayesLinear(5, 2, prior_std=0.3, posterior_std_init=0.3)
    with torch.no_grad():
        layer.weight_mu.zero_()
        layer.bias_mu.zero_()
    assert layer.kl().item() == pytest.approx(0, abs=1e-5)


def test_the_posterior_std_starts_where_it_is_asked_to():
    layer = BayesLinear(2, 2, prior_std=1.0, posterior_std_init=1e-3)
    assert torch.allclose(layer.weight_sigma, torch.full((2, 2), 1e-3))
    assert softplus_inverse(1e-8) == pytest.approx(math.log(1e-8), rel=1e-6)  # finite where log(e^v - 1) loses it


def test_the_point_estimates_penalty_is_the_negative_log_prior():
    torch.manual_seed(0)
    layer = PointLinear(3, 2, prior_std=0.5)
    prior = torch.distributions.Normal(0.0, 0.5)
    expected = -(prior.log_prob(layer.weight).sum() + prior.log_prob(layer.bias).sum())
    assert layer.neg_log_prior().item() == pytest.approx(expected.item(), rel=1e-6)
