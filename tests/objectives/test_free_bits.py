"""Free bits: max(lambda, KL) per dimension, group or in total, with an exactly zero gradient below lambda."""

import pytest
import torch

from vaelab.config import ObjectiveConfig
from vaelab.errors import UsageError
from vaelab.model import VAEOutput
from vaelab.model.posterior import DiagonalGaussian
from vaelab.objectives import Objective
from vaelab.objectives.free_bits import free_bits_kl

SHAPE = (1, 4, 4)


def posterior_with_kl(kl_per_dim_target):
    """A posterior whose every example has KL_j = target_j: sigma = 1, mu_j = sqrt(2 target_j)."""
    mean = torch.tensor(kl_per_dim_target).mul(2).sqrt().repeat(3, 1).requires_grad_()
    logvar = torch.zeros_like(mean, requires_grad=True)
    return DiagonalGaussian(mean, logvar), mean


def test_known_values_per_dim_group_and_total():
    kl = torch.tensor([[0.1, 0.5, 2.0, 0.0], [0.3, 0.5, 1.0, 0.0]])  # batch means: 0.2, 0.5, 1.5, 0
    assert free_bits_kl(kl, free_bits=0.25).item() == pytest.approx(0.25 + 0.5 + 1.5 + 0.25)
    # groups [0.2, 0.5] -> 0.7, [1.5, 0] -> 1.5
    assert free_bits_kl(kl, free_bits=1.0, mode="group", groups=2).item() == pytest.approx(1.0 + 1.5)
    assert free_bits_kl(kl, free_bits=3.0, mode="total").item() == pytest.approx(3.0)
    assert free_bits_kl(kl, free_bits=1.0, mode="total").item() == pytest.approx(2.2)


def test_kl_gradient_is_exactly_zero_below_lambda_and_untouched_above():
    posterior, mean = posterior_with_kl([0.1, 0.2, 1.0, 3.0])
    free_bits_kl(posterior.kl_per_dim(), free_bits=0.5).backward()
    assert torch.all(mean.grad[:, :2] == 0)
    # above lambda the gradient is that of the KL itself: d KL_j / d mu_j = mu_j, averaged over the batch of 3
    torch.testing.assert_close(mean.grad[:, 2:], mean.detach()[:, 2:] / 3)


def test_group_below_lambda_has_zero_gradient_for_all_its_dimensions():
    posterior, mean = posterior_with_kl([0.1, 0.2, 1.0, 3.0])
    free_bits_kl(posterior.kl_per_dim(), free_bits=0.5, mode="group", groups=2).backward()
    assert torch.all(mean.grad[:, :2] == 0) and torch.all(mean.grad[:, 2:] != 0)


def test_objective_logs_the_true_kl_and_trains_the_free_bits_term():
    objective = Objective(ObjectiveConfig(beta=0.5, free_bits=0.5), image_shape=SHAPE)
    posterior, mean = posterior_with_kl([0.1, 0.2, 1.0, 3.0])
    x = torch.rand(3, *SHAPE)
    output = VAEOutput(posterior=posterior, z=posterior.mean, logits=torch.zeros(3, *SHAPE, requires_grad=True))
    terms = objective(x, output, step=0)
    torch.testing.assert_close(terms.kl, torch.full((3,), 4.3))
    metrics = terms.metrics()
    assert metrics["kl_objective"] == pytest.approx(0.5 + 0.5 + 1.0 + 3.0)
    assert metrics["loss"] == pytest.approx(metrics["recon"] + 0.5 * metrics["kl_objective"])
    terms.loss.backward()
    assert torch.all(mean.grad[:, :2] == 0)


def test_free_bits_follow_the_beta_schedule():
    objective = Objective(ObjectiveConfig(beta=1.0, free_bits=0.25, beta_schedule="linear:10"), image_shape=SHAPE)
    assert [objective.beta_at(t) for t in (0, 5, 10)] == [0.0, 0.5, 1.0]


def test_more_groups_than_latent_dimensions_is_a_usage_error():
    with pytest.raises(UsageError, match="free_bits_groups=5 exceeds the 4 latent dims"):
        free_bits_kl(torch.ones(2, 4), free_bits=0.1, mode="group", groups=5)


def test_the_objective_passes_its_groups_to_the_free_bits():
    # KL per dim 0.1, 0.2, 1.0, 3.0 in two groups: max(0.5, 0.3) + max(0.5, 4.0); one group per dim would be 5.0
    objective = Objective(ObjectiveConfig(beta=0.5, free_bits=0.5, free_bits_mode="group", free_bits_groups=2),
                          image_shape=SHAPE)
    posterior, _ = posterior_with_kl([0.1, 0.2, 1.0, 3.0])
    output = VAEOutput(posterior=posterior, z=posterior.mean, logits=torch.zeros(3, *SHAPE))
    assert objective(torch.rand(3, *SHAPE), output, step=0).metrics()["kl_objective"] == pytest.approx(4.5)
