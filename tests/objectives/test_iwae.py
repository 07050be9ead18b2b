"""Known answers for IWAE training: K = 1 is the ELBO objective, the bound rises with K on a fixed model, and the
loss is beta times -IWAE_K of the Gaussian decoder that the summed squared error implies."""

import math

import pytest
import torch

from vaelab.config import ObjectiveConfig
from vaelab.model import ConvVAE
from vaelab.model.linear import LinearVAE
from vaelab.objectives import Objective

SHAPE = (1, 8, 8)
D = math.prod(SHAPE)


def model_and_images():
    torch.manual_seed(0)
    model = ConvVAE(image_size=8, channels=1, latent_dim=3, width=4)
    return model, torch.rand(6, *SHAPE, generator=torch.Generator().manual_seed(1))


def objective(**config) -> Objective:
    return Objective(ObjectiveConfig(**config), image_shape=SHAPE)


def test_iwae_with_one_sample_is_the_elbo_objective():
    model, x = model_and_images()
    iwae, elbo = objective(recon="sse", beta=0.5, method="iwae", iwae_samples=1), objective(recon="sse", beta=0.5)
    assert iwae.samples == 1
    output = model(x, generator=torch.Generator().manual_seed(2), samples=iwae.samples)
    a, b = iwae(x, output, 0), elbo(x, output, 0)
    log_ratio = output.posterior.log_prob(output.z) - output.prior.log_prob(output.z)  # log q(z|x) - log p(z)
    # the ELBO objective with its KL estimated by the code it drew: recon + beta (log q(z|x) - log p(z))
    single_code = (b.recon + 0.5 * log_ratio).mean()
    torch.testing.assert_close(a.loss, single_code)
    for name in ("recon", "kl", "elbo", "mse"):
        torch.testing.assert_close(getattr(a, name), getattr(b, name))
    # IWAE_1 is the one-code ELBO: -(nll + log q - log p)
    torch.testing.assert_close(a.extras["iwae"], (b.elbo + b.kl - log_ratio).double().mean())
    # and the gradients are those of that objective
    params = list(model.parameters())
    grad_iwae = torch.autograd.grad(a.loss, params, retain_graph=True)
    grad_elbo = torch.autograd.grad(single_code, params)
    for g, h in zip(grad_iwae, grad_elbo):
        torch.testing.assert_close(g, h)


def test_the_bound_rises_with_k_on_a_fixed_model():
    torch.manual_seed(0)
    model = LinearVAE(image_size=8, channels=1, latent_dim=3)  # a decoder that depends on z at its initialisation
    x = torch.rand(6, *SHAPE, generator=torch.Generator().manual_seed(1))
    generator = torch.Generator().manual_seed(3)
    means, errors = [], []
    with torch.no_grad():
        for k in (1, 4, 16, 64):
            method = objective(recon="sse", beta=0.1, method="iwae", iwae_samples=k)
            draws = torch.tensor([float(method(x, model(x, generator=generator, samples=k), 0).extras["iwae"])
                                  for _ in range(40)])
            means.append(float(draws.mean()))
            errors.append(float(draws.std() / math.sqrt(len(draws))))
    for i in range(len(means) - 1):
        gap = means[i + 1] - means[i]
        assert gap > 3 * math.hypot(errors[i], errors[i + 1]), (means, errors)


@pytest.mark.parametrize("recon, beta, sigma2", [("sse", 0.3, 0.15), ("mse-mean", 0.01, 0.01 * D / 2),
                                                 ("bernoulli", 1.0, None)])
def test_the_loss_is_beta_times_minus_iwae_of_the_implied_decoder(recon, beta, sigma2):
    # sse: -l_k / beta = log w_k + D (log sigma + 1/2 log 2 pi), so
    # loss + beta IWAE_K = -beta D (log sigma + 1/2 log 2 pi); Bernoulli at beta = 1: loss = -IWAE_K
    model, x = model_and_images()
    method = objective(recon=recon, beta=beta, method="iwae", iwae_samples=8)
    terms = method(x, model(x, generator=torch.Generator().manual_seed(4), samples=8), 0)
    constant = 0.0 if sigma2 is None else -beta * D * (0.5 * math.log(sigma2) + 0.5 * math.log(2 * math.pi))
    assert float(terms.loss.detach() + beta * terms.extras["iwae"]) == pytest.approx(constant, rel=1e-5, abs=1e-3)
