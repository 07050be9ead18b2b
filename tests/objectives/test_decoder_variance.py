"""The sigma-VAE likelihoods: the optimal sigma is sqrt(MSE) and minimises the NLL; a learned sigma gets there."""

import math

import pytest
import torch

from vaelab.config import ObjectiveConfig
from vaelab.model import ConvVAE
from vaelab.objectives import Objective, gaussian_nll
from vaelab.objectives.decoder_variance import (
    LearnedSigmaGaussian,
    OptimalSigmaGaussian,
    optimal_log_sigma,
    soft_clip_below,
    unclipped,
)

LOG_2PI = math.log(2 * math.pi)


def batch(channels=1, seed=0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(6, channels, 5, 5, generator=generator)
    logits = torch.randn(6, channels, 5, 5, generator=generator)
    return x, logits


def total_nll(x, mean, log_sigma):
    return float(gaussian_nll(x, mean, torch.as_tensor(log_sigma)).sum())


def test_optimal_sigma_is_the_root_mean_squared_error():
    x, logits = batch()
    likelihood = OptimalSigmaGaussian(per_channel=False, channels=1)
    likelihood.recon(x, logits)
    mse = float((x - torch.sigmoid(logits)).pow(2).mean())
    assert likelihood.sigma() == pytest.approx(math.sqrt(mse), rel=1e-6)


def test_optimal_sigma_minimises_the_gaussian_nll():
    x, logits = batch()
    mean = torch.sigmoid(logits)
    likelihood = OptimalSigmaGaussian(per_channel=False, channels=1)
    best = float(likelihood.recon(x, logits).sum())
    sigma = likelihood.sigma()
    # known value at the optimum: N D / 2 * (1 + log 2 pi) + N D log sigma*, for N D = 150 values
    assert best == pytest.approx(150 / 2 * (1 + LOG_2PI) + 150 * math.log(sigma), rel=1e-5)
    for factor in [0.25, 0.5, 0.9, 0.99, 0.999, 1.001, 1.01, 1.1, 2.0, 4.0]:
        assert total_nll(x, mean, math.log(sigma * factor)) > best


def test_per_channel_optimal_sigma_is_each_channels_rmse_and_each_is_a_minimum():
    x, logits = batch(channels=3)
    mean = torch.sigmoid(logits)
    likelihood = OptimalSigmaGaussian(per_channel=True, channels=3)
    best = float(likelihood.recon(x, logits).sum())
    log_sigma = optimal_log_sigma(x, mean, per_channel=True)
    assert log_sigma.shape == (3, 1, 1)
    rmse = (x - mean).pow(2).mean(dim=(0, 2, 3)).sqrt()
    torch.testing.assert_close(log_sigma.exp().flatten(), rmse)
    assert likelihood.sigma() == pytest.approx(float(rmse.mean()))
    assert likelihood.metrics() == pytest.approx({f"sigma_channel_{c}": float(rmse[c]) for c in range(3)})
    for c in range(3):
        for factor in (0.98, 1.02):
            moved = log_sigma.clone()
            moved[c] += math.log(factor)
            assert total_nll(x, mean, moved) > best


def test_detaching_the_optimal_sigma_does_not_change_the_gradient():
    # sigma* is a stationary point of the NLL in sigma, so d NLL / d mean is the same with or without
    # the path through sigma* (the envelope theorem)
    x, _ = batch()
    logits = torch.randn(6, 1, 5, 5, generator=torch.Generator().manual_seed(1), requires_grad=True)
    detached = torch.autograd.grad(OptimalSigmaGaussian(per_channel=False, channels=1).recon(x, logits).sum(), logits)[0]
    mean = torch.sigmoid(logits)
    log_sigma = 0.5 * torch.log((x - mean).pow(2).mean())
    attached = torch.autograd.grad(gaussian_nll(x, mean, log_sigma).sum(), logits)[0]
    torch.testing.assert_close(detached, attached, rtol=1e-4, atol=1e-6)


def test_optimal_sigma_is_floored_at_e_to_the_minus_6():
    x = torch.full((2, 1, 3, 3), 0.5)
    likelihood = OptimalSigmaGaussian(per_channel=False, channels=1)
    nll = likelihood.recon(x, torch.zeros_like(x))  # a perfect reconstruction: MSE = 0
    assert likelihood.sigma() == pytest.approx(math.exp(-6))
    torch.testing.assert_close(nll, torch.full((2,), 9 * (-6 + 0.5 * LOG_2PI)))


@pytest.mark.parametrize("per_channel", [False, True])
def test_learned_sigma_converges_to_the_root_mean_squared_error(per_channel):
    x, logits = batch(channels=3)
    likelihood = LearnedSigmaGaussian(channels=3, per_channel=per_channel, init_sigma=1.0)
    assert likelihood.sigma() == pytest.approx(1.0)
    optimiser = torch.optim.Adam(likelihood.parameters(), lr=0.05)
    for _ in range(400):
        optimiser.zero_grad()
        likelihood.recon(x, logits).mean().backward()
        optimiser.step()
    squared = (x - torch.sigmoid(logits)).pow(2)
    rmse = squared.mean(dim=(0, 2, 3)).sqrt() if per_channel else squared.mean().sqrt().expand(3)
    learned = likelihood.log_sigma().detach().exp().expand(3, 1, 1).flatten()
    torch.testing.assert_close(learned, rmse, rtol=1e-3, atol=0)


def test_learned_log_sigma_is_soft_clipped_below_at_minus_6():
    likelihood = LearnedSigmaGaussian(channels=1, per_channel=False, init_sigma=0.3)
    assert likelihood.sigma() == pytest.approx(0.3)
    with torch.no_grad():
        likelihood.raw_log_sigma.fill_(-50.0)
    assert float(likelihood.log_sigma().detach()) == pytest.approx(-6.0)
    with torch.no_grad():
        likelihood.raw_log_sigma.fill_(-1.0)
    assert float(likelihood.log_sigma().detach()) == pytest.approx(-1.0, abs=1e-2)


def test_objective_trains_and_saves_the_learned_sigma_and_logs_it():
    torch.manual_seed(0)
    model = ConvVAE(image_size=8, channels=3, latent_dim=2, width=4)
    objective = Objective(ObjectiveConfig(recon="sigma-learned", sigma=0.5, sigma_per_channel=True), image_shape=(3, 8, 8))
    assert [name for name, _ in objective.named_parameters()] == ["likelihood.raw_log_sigma"]
    assert "likelihood.raw_log_sigma" in objective.state_dict()
    x = torch.rand(4, 3, 8, 8)
    terms = objective(x, model(x), step=0)
    assert terms.sigma == pytest.approx(0.5)
    assert set(terms.metrics()) >= {"sigma", "sigma_channel_0", "sigma_channel_1", "sigma_channel_2"}
    # the ELBO's likelihood is the one trained: recon is the Gaussian NLL with the learned sigma
    torch.testing.assert_close(terms.elbo, -(terms.recon + terms.kl).detach())
    terms.loss.backward()
    assert objective.likelihood.raw_log_sigma.grad is not None


def test_optimal_sigma_objective_logs_the_batch_sigma():
    torch.manual_seed(0)
    model = ConvVAE(image_size=8, channels=1, latent_dim=2, width=4)
    objective = Objective(ObjectiveConfig(recon="sigma-optimal"), image_shape=(1, 8, 8))
    assert list(objective.parameters()) == [] and "likelihood.batch_log_sigma" not in objective.state_dict()
    x = torch.rand(4, 1, 8, 8)
    terms = objective(x, model(x), step=0)
    assert terms.sigma == pytest.approx(math.sqrt(float(terms.mse.mean())), rel=1e-5)


@pytest.mark.parametrize("sigma", [0.005, 0.1, 1.5])
def test_unclipped_is_the_inverse_of_the_soft_clip(sigma):
    # a learned sigma that starts at --set objective.sigma=S starts from the raw value that clips to log S
    raw = unclipped(math.log(sigma))
    assert float(soft_clip_below(torch.tensor(raw, dtype=torch.float64))) == pytest.approx(math.log(sigma), rel=1e-9)
    assert float(unclipped(torch.tensor(math.log(sigma), dtype=torch.float64))) == pytest.approx(raw, rel=1e-9)
