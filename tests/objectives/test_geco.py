"""GECO's multiplier: the update rule, its bounds, its state (on real training: test_training_methods.py)."""

import math

import pytest
import torch

from vaelab.config import ObjectiveConfig
from vaelab.model import ConvVAE
from vaelab.objectives import Objective

SHAPE = (1, 4, 4)


def geco(**overrides):
    config = ObjectiveConfig(**{"geco_target": 0.01, **overrides})
    return Objective(config, image_shape=SHAPE).weighting


def step(weighting, *, mse=0.0, recon=0.0, kl=1.0, t=0):
    kl_per_dim = torch.full((4, 2), kl / 2)
    return weighting(recon=torch.full((4,), recon), kl=kl_per_dim.sum(dim=1), kl_per_dim=kl_per_dim,
                     mse=torch.full((4,), mse), step=t)


def test_multiplier_follows_the_moving_average_of_the_log_constraint():
    # lambda <- lambda * exp(nu * log(error_ma / kappa))
    weighting = geco(geco_lr=0.1, geco_alpha=0.5)
    first = step(weighting, mse=0.03)  # error_ma starts at the first batch: 0.03 = 3 kappa
    assert first.beta == 1.0 and first.extras["geco_lambda"] == 1.0
    assert float(weighting.multiplier) == pytest.approx(3**0.1)
    second = step(weighting, mse=0.01)  # error_ma = 0.5 * 0.03 + 0.5 * 0.01 = 0.02 = 2 kappa
    assert second.beta == pytest.approx(3**-0.1)
    assert second.extras["geco_error_ma"] == pytest.approx(0.02)
    assert second.extras["geco_constraint_ma"] == pytest.approx(0.01)
    assert float(weighting.multiplier) == pytest.approx(3**0.1 * 2**0.1)


def test_the_update_is_symmetric_in_the_ratio_to_the_target():
    above, below = geco(geco_lr=0.5), geco(geco_lr=0.5)
    step(above, mse=0.02)
    step(below, mse=0.005)
    assert float(above.multiplier) * float(below.multiplier) == pytest.approx(1.0)


def test_multiplier_shrinks_below_the_target_and_stays_within_its_bounds():
    weighting = geco(geco_lr=1.0, geco_lambda_min=0.1, geco_lambda_max=2.0)
    step(weighting, mse=0.005)
    assert float(weighting.multiplier) == pytest.approx(0.5)
    for _ in range(10):
        step(weighting, mse=0.0)
    assert float(weighting.multiplier) == pytest.approx(0.1)
    for _ in range(50):
        step(weighting, mse=1.0)
    assert float(weighting.multiplier) == 2.0


def test_recon_units_constrain_the_recon_term():
    weighting = geco(geco_units="recon", geco_target=10.0, geco_lr=0.1)
    step(weighting, recon=15.0, mse=123.0)
    assert float(weighting.error_ma) == 15.0
    assert float(weighting.multiplier) == pytest.approx(1.5**0.1)


def test_no_update_in_evaluation_mode():
    weighting = geco()
    weighting.eval()
    step(weighting, mse=1.0)
    assert float(weighting.multiplier) == 1.0 and math.isnan(float(weighting.error_ma))


def test_loss_is_recon_plus_kl_over_lambda():
    torch.manual_seed(0)
    model = ConvVAE(image_size=8, channels=1, latent_dim=2, width=4)
    x = torch.rand(3, 1, 8, 8)
    objective = Objective(ObjectiveConfig(geco_target=0.01, geco_lambda_init=4.0), image_shape=(1, 8, 8))
    terms = objective(x, model(x), step=0)
    assert terms.beta == 0.25 and terms.extras["geco_lambda"] == 4.0
    torch.testing.assert_close(terms.loss, terms.recon.mean() + 0.25 * terms.kl.mean())
    assert objective.beta_at(1) == pytest.approx(1 / float(objective.weighting.multiplier))


def test_multiplier_and_moving_average_are_in_the_state_dict_and_restored():
    objective = Objective(ObjectiveConfig(geco_target=0.01), image_shape=SHAPE)
    for _ in range(3):
        step(objective.weighting, mse=0.05)
    state = objective.state_dict()
    assert {"weighting.multiplier", "weighting.error_ma"} <= set(state)
    restored = Objective(ObjectiveConfig(geco_target=0.01), image_shape=SHAPE)
    restored.load_state_dict(state)
    assert float(restored.weighting.multiplier) == float(objective.weighting.multiplier) > 1
    assert float(restored.weighting.error_ma) == pytest.approx(0.05)


def test_the_logged_sigma_and_elbo_are_those_of_the_weight_in_force():
    # GECO trains recon + (1 / lambda) KL: with summed squared error that is sigma^2 = (1 / lambda) / 2
    torch.manual_seed(0)
    model = ConvVAE(image_size=8, channels=1, latent_dim=2, width=2)
    objective = Objective(ObjectiveConfig(geco_target=0.01, recon="sse"), image_shape=(1, 8, 8))
    objective.weighting.multiplier.fill_(8.0)
    objective.eval()
    x = torch.rand(5, 1, 8, 8)
    output = model(x, generator=torch.Generator().manual_seed(0))
    terms = objective(x, output, 0)
    sigma = math.sqrt(1 / (2 * 8.0))
    assert float(terms.sigma) == pytest.approx(sigma) and terms.logged_beta() == pytest.approx(1 / 8)
    assert objective.sigma() == pytest.approx(sigma)
    sse = (x - output.reconstruction).pow(2).flatten(1).sum(1).double()
    nll = sse / (2 * sigma**2) + 64 * (math.log(sigma) + 0.5 * math.log(2 * math.pi))
    torch.testing.assert_close(terms.elbo.double(), -(nll + output.posterior.kl().double()), rtol=1e-6, atol=1e-5)


def test_capacity_control_reads_summed_squared_error_at_beta_one():
    # gamma |KL - C| has no weight to read as a sigma: the ELBO is that of SSE at beta = 1, sigma^2 = 1/2
    objective = Objective(ObjectiveConfig(capacity=25.0, beta=0.1, recon="sse"), image_shape=SHAPE)
    assert objective.sigma() == pytest.approx(math.sqrt(0.5))
