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


def test_multiplier_follows_the_bias_corrected_moving_average_of_the_log_constraint():
    # m_t = alpha m_(t-1) + (1 - alpha) e_t, error_ma = m_t / (1 - alpha^t), lambda <- lambda * (error_ma / kappa)^nu
    weighting = geco(geco_lr=0.1, geco_alpha=0.5)
    first = step(weighting, mse=0.03)  # m_1 = 0.015, corrected by 1 - 0.5 = 0.5: the first error itself, 3 kappa
    assert first.beta == 1.0 and first.extras["geco_lambda"] == 1.0
    assert first.extras["geco_error_ma"] == pytest.approx(0.03)
    assert float(weighting.multiplier) == pytest.approx(3**0.1)
    second = step(weighting, mse=0.01)  # m_2 = 0.0125, / (1 - 0.25): (0.25 * 0.03 + 0.5 * 0.01) / 0.75 = kappa 5/3
    assert second.beta == pytest.approx(3**-0.1)
    assert second.extras["geco_error_ma"] == pytest.approx(0.05 / 3)
    assert second.extras["geco_constraint_ma"] == pytest.approx(0.05 / 3 - 0.01)
    assert float(weighting.multiplier) == pytest.approx(3**0.1 * (5 / 3) ** 0.1)


@pytest.mark.parametrize("alpha", [0.9, 0.99])
def test_the_corrected_average_is_the_normalised_exponential_average_of_every_error(alpha):
    # Kingma & Ba 2015, section 3: m_t / (1 - alpha^t) = sum_i (1 - alpha) alpha^(t - i) e_i / sum_i of the weights,
    # so a constant error is averaged exactly from the first step (no pull towards m_0 = 0)
    constant = geco(geco_alpha=alpha)
    for _ in range(5):
        out = step(constant, mse=0.04)
        assert out.extras["geco_error_ma"] == pytest.approx(0.04, rel=1e-5)
    errors = [0.5, 0.1, 0.2, 0.05, 0.3, 0.02, 0.01]
    weighting = geco(geco_alpha=alpha)
    for t, error in enumerate(errors, start=1):
        out = step(weighting, mse=error)
        weights = [(1 - alpha) * alpha ** (t - i) for i in range(1, t + 1)]
        expected = sum(w * e for w, e in zip(weights, errors[:t])) / sum(weights)
        assert out.extras["geco_error_ma"] == pytest.approx(expected, rel=1e-5)


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
    assert float(weighting.corrected_error()) == pytest.approx(15.0)
    assert float(weighting.multiplier) == pytest.approx(1.5**0.1)


def test_no_update_in_evaluation_mode():
    weighting = geco()
    weighting.eval()
    step(weighting, mse=1.0)
    assert float(weighting.multiplier) == 1.0 and float(weighting.updates) == 0
    assert math.isnan(float(weighting.corrected_error()))


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
    assert {"weighting.multiplier", "weighting.error_ma", "weighting.updates"} <= set(state)
    restored = Objective(ObjectiveConfig(geco_target=0.01), image_shape=SHAPE)
    restored.load_state_dict(state)
    assert float(restored.weighting.multiplier) == float(objective.weighting.multiplier) > 1
    assert float(restored.weighting.corrected_error()) == pytest.approx(0.05)
    assert float(restored.weighting.updates) == 3


def test_a_checkpoint_from_before_the_correction_loads_its_average_as_it_is():
    # its average started at the first batch (no t saved): read as converged, 1 - alpha^t = 1
    old = {"weighting.multiplier": torch.tensor(2.0), "weighting.error_ma": torch.tensor(0.03)}
    objective = Objective(ObjectiveConfig(geco_target=0.01), image_shape=SHAPE)
    objective.load_state_dict(old)
    assert float(objective.weighting.corrected_error()) == pytest.approx(0.03)
    assert float(objective.weighting.multiplier) == 2.0


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
