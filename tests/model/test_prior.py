"""Known answers for the priors: normalised mixture densities, the full-covariance density against torch's, draws
with the mixture's moments, and a network that rebuilds its prior from its hyperparameters."""

import math

import pytest
import torch

from vaelab.config import Config
from vaelab.model import build_model, model_from_hparams
from vaelab.model.conv import ConvVAE
from vaelab.model.prior import FittedMixturePrior, GaussianMixture, StandardNormal, VampPrior


def box_integral(log_prob, low: torch.Tensor, high: torch.Tensor, n: int = 400_000, seed: int = 0):
    """Monte Carlo integral of exp(log_prob) over the box [low, high] (2-D) with n uniform points, and its SE."""
    u = torch.rand(n, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    z = low + (high - low) * u
    values = log_prob(z).exp() * (high - low).prod()
    return float(values.mean()), float(values.std() / math.sqrt(n))


def test_vamp_prior_is_a_normalised_mixture_of_the_pseudo_inputs_posteriors():
    torch.manual_seed(0)
    model = ConvVAE(image_size=8, channels=1, latent_dim=2, width=4)
    model.prior = VampPrior(5, (1, 8, 8))
    model.prior.start_at(torch.rand(5, 1, 8, 8))
    with torch.no_grad():
        density = model.prior_density()
        posterior = model.encode(model.prior.pseudo_inputs())
    assert density.components == 5 and not density.standard
    # p(z) = (1/K) sum_k q(z|u_k), pointwise, and the pseudo-inputs are the images it started at (to the clip)
    z = torch.randn(7, 2, dtype=torch.float64)
    by_hand = torch.logsumexp(posterior.log_prob(z[:, None, :].double()), dim=1) - math.log(5)
    torch.testing.assert_close(density.log_prob(z), by_hand)
    # the integral over a box 8 sd beyond every component is 1
    std = posterior.std.double()
    low = (posterior.mean.double() - 8 * std).min(dim=0).values
    high = (posterior.mean.double() + 8 * std).max(dim=0).values
    integral, se = box_integral(density.log_prob, low, high)
    assert abs(integral - 1) < max(4 * se, 1e-3), (integral, se)


def test_full_covariance_mixture_density_matches_torch_and_integrates_to_one():
    generator = torch.Generator().manual_seed(3)
    a = torch.randn(3, 2, 2, generator=generator, dtype=torch.float64)
    covariance = a @ a.transpose(1, 2) + 0.3 * torch.eye(2, dtype=torch.float64)  # (3, 2, 2)
    mean = torch.randn(3, 2, generator=generator, dtype=torch.float64)
    weights = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
    mixture = GaussianMixture(weights.log(), mean, scale_tril=torch.linalg.cholesky(covariance))
    reference = torch.distributions.MixtureSameFamily(torch.distributions.Categorical(weights),
                                                      torch.distributions.MultivariateNormal(mean, covariance))
    z = torch.randn(50, 2, generator=generator, dtype=torch.float64) * 2
    torch.testing.assert_close(mixture.log_prob(z), reference.log_prob(z))
    integral, se = box_integral(mixture.log_prob, torch.full((2,), -12.0, dtype=torch.float64),
                                torch.full((2,), 12.0, dtype=torch.float64))
    assert abs(integral - 1) < max(4 * se, 2e-3), (integral, se)


@pytest.mark.parametrize("full", [True, False])
def test_mixture_draws_have_the_mixture_moments(full):
    weights = torch.tensor([0.25, 0.75])
    mean = torch.tensor([[-2.0, 1.0], [1.0, 0.0]])
    if full:
        covariance = torch.tensor([[[1.0, 0.5], [0.5, 1.0]], [[0.25, 0.0], [0.0, 2.0]]])
        mixture = GaussianMixture(weights.log(), mean, scale_tril=torch.linalg.cholesky(covariance))
    else:
        covariance = torch.diag_embed(torch.tensor([[1.0, 0.5], [0.25, 2.0]]))
        mixture = GaussianMixture(weights.log(), mean, logvar=covariance.diagonal(dim1=1, dim2=2).log())
    z = mixture.sample(400_000, torch.Generator().manual_seed(0)).double()
    expected_mean = weights @ mean  # law of total covariance: E[Cov] + Cov[E]
    centred = mean - expected_mean
    expected_cov = (weights[:, None, None] * (covariance + centred[:, :, None] * centred[:, None, :])).sum(dim=0)
    torch.testing.assert_close(z.mean(dim=0).float(), expected_mean, atol=0.01, rtol=0)
    torch.testing.assert_close(z.T.cov().float(), expected_cov, atol=0.02, rtol=0)


def test_standard_normal_is_the_closed_form_and_draws_as_randn():
    prior = StandardNormal(3)
    z = torch.randn(4, 3)
    expected = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(dim=1)
    torch.testing.assert_close(prior.log_prob(z), expected)
    assert torch.equal(prior.sample(5, torch.Generator().manual_seed(1)),
                       torch.randn(5, 3, generator=torch.Generator().manual_seed(1)))


def test_fitted_mixture_is_none_until_fitted_then_the_mixture_set():
    model = ConvVAE(image_size=8, channels=1, latent_dim=2, width=4)
    model.prior = FittedMixturePrior(2, 2, "diag")
    assert model.prior_density() is None
    model.prior.set_mixture(torch.tensor([0.5, 0.5]), torch.tensor([[0.0, 0.0], [3.0, 0.0]]),
                            torch.tensor([[1.0, 1.0], [4.0, 1.0]]), step=0)
    density = model.prior_density()
    z = torch.tensor([[1.0, -1.0]])
    by_hand = math.log(0.5 * math.exp(-1.0) / (2 * math.pi) + 0.5 * math.exp(-0.5 * (4 / 4 + 1)) / (2 * math.pi * 2))
    assert density.log_prob(z).item() == pytest.approx(by_hand, rel=1e-6)


@pytest.mark.parametrize("prior", ["vamp", "gmm"])
def test_a_network_rebuilds_its_prior_from_its_hyperparameters(prior):
    config = Config().with_updates({"model.arch": "plain", "model.latent_dim": 3, "model.width": 4,
                                    "model.prior": prior, "model.prior_components": 4})
    model = build_model(config, (1, 8, 8))
    assert model.hparams["prior"] == prior
    rebuilt = model_from_hparams(model.hparams)
    assert type(rebuilt.prior) is type(model.prior)
    rebuilt.load_state_dict(model.state_dict())  # the prior's parameters or buffers are in the state
    assert any(key.startswith("prior.") for key in model.state_dict())
    normal = build_model(Config().with_updates({"model.arch": "plain", "model.width": 4}), (1, 8, 8))
    assert "prior" not in normal.hparams  # runs from before priors rebuild as they were
