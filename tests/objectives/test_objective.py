"""Known answers for the objective: the weighted sum, the reduction convention, the implied sigma."""

import math

import pytest
import torch
import torch.nn.functional as F

from vaelab.config import ObjectiveConfig
from vaelab.model import ConvVAE
from vaelab.objectives import Objective, gaussian_nll
from vaelab.objectives.focal_frequency import FocalFrequencyLoss
from vaelab.objectives.ms_ssim import MSSSIMLoss
from vaelab.objectives.objective import make_loss
from vaelab.objectives.watson import WatsonDFTLoss

SHAPE = (1, 8, 8)
D = math.prod(SHAPE)


def setup(recon="sse", beta=0.1, kind="vae", **extra):
    torch.manual_seed(0)
    model = ConvVAE(image_size=8, channels=1, latent_dim=3, width=4, kind=kind)
    objective = Objective(ObjectiveConfig(recon=recon, beta=beta, **extra), image_shape=SHAPE, deterministic=kind == "ae")
    x = torch.rand(5, *SHAPE)
    output = model(x, generator=torch.Generator().manual_seed(0))
    return model, objective, x, output


@pytest.mark.parametrize("recon", ["sse", "mse-mean", "gaussian", "bernoulli"])
@pytest.mark.parametrize("beta", [0.0, 0.1, 1.0, 4.0])
def test_loss_is_recon_plus_beta_kl_per_example_and_per_batch(recon, beta):
    _, objective, x, output = setup(recon, beta)
    terms = objective(x, output, step=0)
    per_example = terms.recon + beta * terms.kl
    assert per_example.shape == (5,)
    torch.testing.assert_close(terms.loss, per_example.mean())
    metrics = terms.metrics()
    assert metrics["loss"] == pytest.approx(metrics["recon"] + beta * metrics["kl"], rel=1e-6)


def test_reduction_is_a_sum_over_pixels_and_a_mean_over_the_batch():
    _, objective, x, output = setup("sse", 1.0)
    terms = objective(x, output, step=0)
    x_hat = torch.sigmoid(output.logits)
    torch.testing.assert_close(terms.recon, ((x - x_hat) ** 2).sum(dim=(1, 2, 3)))
    torch.testing.assert_close(terms.mse, ((x - x_hat) ** 2).mean(dim=(1, 2, 3)))
    torch.testing.assert_close(terms.kl, output.posterior.kl())
    _, mean_objective, _, _ = setup("mse-mean", 1.0)
    torch.testing.assert_close(mean_objective(x, output, 0).recon, terms.recon / D)
    bernoulli = setup("bernoulli", 1.0)[1](x, output, 0).recon
    torch.testing.assert_close(bernoulli, F.binary_cross_entropy(x_hat, x, reduction="none").sum(dim=(1, 2, 3)), atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize("beta", [0.01, 0.1, 1.0, 3.0])
def test_sse_elbo_is_read_under_the_implied_sigma(beta):
    # sigma^2 = beta / 2: -ELBO = SSE / beta + KL + D/2 log(pi * beta)
    _, objective, x, output = setup("sse", beta)
    terms = objective(x, output, step=0)
    assert terms.sigma == pytest.approx(math.sqrt(beta / 2))
    expected = -(terms.recon / beta + terms.kl + D / 2 * math.log(math.pi * beta))
    torch.testing.assert_close(terms.elbo, expected, rtol=1e-5, atol=1e-3)
    # ... which is the seed's loss, divided by beta, up to a constant
    torch.testing.assert_close(-terms.elbo * beta, terms.recon + beta * terms.kl + beta * D / 2 * math.log(math.pi * beta))


def test_mse_mean_implies_sigma_squared_beta_d_over_two():
    _, objective, x, output = setup("mse-mean", 0.1)
    assert objective(x, output, 0).sigma == pytest.approx(math.sqrt(0.1 * D / 2))


def test_gaussian_nll_known_value():
    x = torch.zeros(1, 1, 2, 2)
    mean = torch.full((1, 1, 2, 2), 0.5)
    log_sigma = torch.tensor(math.log(0.5))
    # each pixel: 0.5 * 1^2 + log 0.5 + 0.5 log 2pi
    expected = 4 * (0.5 + math.log(0.5) + 0.5 * math.log(2 * math.pi))
    assert gaussian_nll(x, mean, log_sigma).item() == pytest.approx(expected)


@pytest.mark.parametrize("recon,pixels_averaged", [("sse", 1), ("mse-mean", D)])
def test_sse_gradients_are_a_rescaled_gaussian_elbo_gradient(recon, pixels_averaged):
    # SSE + beta KL = 2 sigma^2 (NLL_sigma + KL) + const with sigma^2 = beta / 2, so the gradients
    # are 2 sigma^2 times the Gaussian ELBO's; for the per-pixel mean sigma^2 = beta D / 2 and the
    # factor is 2 sigma^2 / D. Either way the factor is beta.
    beta = 0.3
    model, objective, x, _ = setup(recon, beta)
    sigma = objective.likelihood.sigma()
    assert sigma**2 == pytest.approx(beta * pixels_averaged / 2)
    output = model(x, generator=torch.Generator().manual_seed(3))
    seed_grads = torch.autograd.grad(objective(x, output, 0).loss, list(model.parameters()))
    output = model(x, generator=torch.Generator().manual_seed(3))
    nll = gaussian_nll(x, output.reconstruction, torch.tensor(math.log(sigma)))
    elbo_grads = torch.autograd.grad((nll + output.posterior.kl()).mean(), list(model.parameters()))
    factor = 2 * sigma**2 / pixels_averaged
    assert factor == pytest.approx(beta)
    for seed_grad, elbo_grad in zip(seed_grads, elbo_grads):
        torch.testing.assert_close(seed_grad, factor * elbo_grad, rtol=1e-4, atol=1e-7)


def test_autoencoder_has_no_kl_term_no_elbo_and_no_sigma():
    _, objective, x, output = setup("sse", 0.1, kind="ae")
    terms = objective(x, output, 0)
    assert terms.beta == 0
    torch.testing.assert_close(terms.loss, terms.recon.mean())
    # a point-mass posterior: no KL, no ELBO under any sigma, and no decoder sigma (not beta's implied 0.22)
    assert torch.isnan(terms.kl).all() and torch.isnan(terms.elbo).all() and torch.isnan(terms.elbo_shared_sigma).all()
    assert math.isnan(terms.sigma) and math.isnan(objective.sigma())
    assert objective.beta_at(0) == 0.0  # no KL weight either, whatever --beta says
    metrics = terms.metrics()
    assert all(math.isnan(metrics[name]) for name in ("kl", "elbo", "elbo_shared_sigma", "sigma"))


@pytest.mark.parametrize("recon", ["sse", "mse-mean", "gaussian", "bernoulli", "sigma-learned"])
@pytest.mark.parametrize("beta", [0.0, 0.1, 1.0, 4.0])
def test_the_shared_sigma_elbo_is_one_gaussian_of_sigma_squared_one_half_whatever_the_run(recon, beta):
    # -ELBO at sigma^2 = 1/2 = SSE + KL + D/2 log(pi), computed here from the decoded mean's pixels
    _, objective, x, output = setup(recon, beta)
    terms = objective(x, output, step=0)
    sse = ((x - torch.sigmoid(output.logits)) ** 2).sum(dim=(1, 2, 3))
    expected = -(sse + output.posterior.kl() + D / 2 * math.log(math.pi))
    torch.testing.assert_close(terms.elbo_shared_sigma, expected, rtol=1e-5, atol=1e-3)
    # the same number as the full Gaussian density at sigma = sqrt(1/2)
    nll = gaussian_nll(x, torch.sigmoid(output.logits), torch.tensor(0.5 * math.log(0.5)))
    torch.testing.assert_close(terms.elbo_shared_sigma, -(nll + output.posterior.kl()), rtol=1e-5, atol=1e-3)
    if recon == "sse" and beta == 1.0:  # the seed's loss at beta = 1 is this very bound
        torch.testing.assert_close(terms.elbo_shared_sigma, terms.elbo)
    if recon == "sse" and beta == 0.1:  # ... and at beta = 0.1 the run's own bound is another number
        assert (terms.elbo - terms.elbo_shared_sigma).abs().min() > 1


def test_beta_zero_has_sigma_zero_and_minus_infinite_elbo():
    _, objective, x, output = setup("sse", 0.0)
    terms = objective(x, output, 0)
    assert terms.sigma == 0 and torch.isinf(terms.elbo).all()


def adam_trajectory(recon, beta, *, scale=1.0, steps=5, **extra):
    """Parameters after `steps` Adam steps on `scale` times the objective, from a fixed start and fixed noise."""
    model, objective, x, _ = setup(recon, beta, **extra)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    for step in range(steps):
        output = model(x, generator=torch.Generator().manual_seed(step))
        optimiser.zero_grad()
        (scale * objective(x, output, step).loss).backward()
        optimiser.step()
    return [p.detach().clone() for p in model.parameters()]


def test_adam_is_invariant_to_the_scale_of_the_objective():
    # Adam divides the step by the root mean square of the gradient: c * loss gives the same steps,
    # up to the eps = 1e-8 in the denominator
    plain = adam_trajectory("sse", 0.1)
    scaled = adam_trajectory("sse", 0.1, scale=10.0)
    assert any(not torch.equal(a, b) for a, b in zip(plain, adam_trajectory("sse", 0.1, steps=4)))
    for a, b in zip(plain, scaled):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_sse_with_beta_trains_exactly_like_the_gaussian_elbo_with_the_implied_sigma():
    # SSE + beta KL = beta (NLL_sigma + KL) + const with sigma^2 = beta / 2: under Adam, the same run
    beta = 0.1
    seed = adam_trajectory("sse", beta)
    gaussian = adam_trajectory("gaussian", 1.0, sigma=math.sqrt(beta / 2))
    for a, b in zip(seed, gaussian):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_the_squared_errors_nll_at_beta_zero_and_at_any_weight_in_force():
    _, objective, x, output = setup("sse", 0.0)
    assert objective.likelihood.nll(x, output.logits).tolist() == [math.inf] * 5  # sigma = 0: a point mass
    # GECO's weight beta changes every step: the NLL under the sigma it implies, for the per-pixel mean
    # sigma^2 = beta D / 2, from the step's recon term SSE / D
    _, objective, x, output = setup("mse-mean", 0.1)
    sse = ((x - torch.sigmoid(output.logits)) ** 2).sum(dim=(1, 2, 3))
    nll, sigma = objective.likelihood.nll_at_weight(sse / D, torch.tensor(0.3, dtype=torch.float64))
    assert float(sigma) == pytest.approx(math.sqrt(0.3 * D / 2))
    expected = gaussian_nll(x, torch.sigmoid(output.logits), torch.tensor(math.log(float(sigma))))
    torch.testing.assert_close(nll.float(), expected, rtol=1e-5, atol=1e-3)


def test_under_geco_the_sigma_in_force_is_the_one_its_weight_implies():
    objective = Objective(ObjectiveConfig(recon="mse-mean", geco_target=0.01, geco_lambda_init=4.0), image_shape=SHAPE)
    assert objective.sigma() == pytest.approx(math.sqrt(0.25 * D / 2))  # beta = 1 / lambda, per-pixel mean


@pytest.mark.parametrize("name,kind", [("ms-ssim", MSSSIMLoss), ("watson-dft", WatsonDFTLoss),
                                       ("focal-frequency", FocalFrequencyLoss)])
def test_each_loss_that_is_no_likelihood_is_built_by_its_name(name, kind):
    assert type(make_loss(name, (3, 64, 64))) is kind
