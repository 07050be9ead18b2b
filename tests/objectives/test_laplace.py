"""`--recon l1` is a Laplace decoder of scale b = beta: its gradients are beta times the Laplace ELBO's."""

import math

import pytest
import torch

from vaelab.config import ObjectiveConfig
from vaelab.model import ConvVAE
from vaelab.objectives import Objective
from vaelab.objectives.laplace import laplace_nll_from_l1

SHAPE = (1, 8, 8)
D = math.prod(SHAPE)


def setup(beta, **extra):
    torch.manual_seed(0)
    model = ConvVAE(image_size=8, channels=1, latent_dim=3, width=4)
    return model, Objective(ObjectiveConfig(recon="l1", beta=beta, **extra), image_shape=SHAPE), torch.rand(5, *SHAPE)


def laplace_nll(x, mean, scale):
    """-log Laplace(x; mean, b) per image, from the density written out pixel by pixel."""
    density = torch.exp(-(x - mean).abs() / scale) / (2 * scale)
    return -density.log().flatten(1).sum(dim=1)


@pytest.mark.parametrize("beta", [0.05, 0.3, 2.0])
def test_l1_gradients_are_beta_times_the_laplace_elbo_gradients(beta):
    # L1 + beta KL = beta [ -log Laplace(x; x_hat, b = beta) + KL ] - beta D log(2 beta)
    model, objective, x = setup(beta)
    output = model(x, generator=torch.Generator().manual_seed(3))
    l1_grads = torch.autograd.grad(objective(x, output, 0).loss, list(model.parameters()))
    output = model(x, generator=torch.Generator().manual_seed(3))
    negative_elbo = laplace_nll(x, output.reconstruction, beta) + output.posterior.kl()
    elbo_grads = torch.autograd.grad(negative_elbo.mean(), list(model.parameters()))
    for l1_grad, elbo_grad in zip(l1_grads, elbo_grads):
        torch.testing.assert_close(l1_grad, beta * elbo_grad, rtol=1e-4, atol=1e-7)


def test_the_logged_elbo_and_sigma_are_the_laplace_decoders():
    beta = 0.3
    model, objective, x = setup(beta)
    output = model(x, generator=torch.Generator().manual_seed(0))
    terms = objective(x, output, 0)
    torch.testing.assert_close(terms.recon, (x - output.reconstruction).abs().flatten(1).sum(dim=1))
    torch.testing.assert_close(terms.elbo, -(laplace_nll(x, output.reconstruction, beta) + terms.kl), rtol=1e-5, atol=1e-4)
    assert terms.sigma == pytest.approx(math.sqrt(2) * beta)  # the Laplace std, sqrt(2) b
    assert terms.loss.item() == pytest.approx((terms.recon + beta * terms.kl).mean().item(), rel=1e-6)


def test_capacity_control_reads_l1_at_b_1_and_beta_0_is_a_point_mass():
    _, objective, _ = setup(0.1, capacity=10.0)
    assert objective.likelihood.scale == 1.0
    assert laplace_nll_from_l1(torch.tensor([3.0]), 0.0, D).isinf().all()
    assert laplace_nll_from_l1(torch.tensor([3.0]), 0.5, D).item() == pytest.approx(3.0 / 0.5 + D * math.log(1.0))
