"""Losses that are not likelihoods: no ELBO of their own, the Gaussian ELBO at the optimal shared sigma in its
place, a loss added to a likelihood's term, and the settings that make no sense refused in one line."""

import math

import pytest
import torch

from vaelab.config import Config, ObjectiveConfig
from vaelab.errors import UsageError
from vaelab.model import ConvVAE
from vaelab.objectives import Objective, check_objective
from vaelab.objectives.focal_frequency import focal_frequency_loss
from vaelab.objectives.laplace import absolute_error

SHAPE = (3, 16, 16)
D = math.prod(SHAPE)


def terms_of(beta=0.1, **fields):
    torch.manual_seed(0)
    model = ConvVAE(image_size=16, channels=3, latent_dim=3, width=4)
    x = torch.rand(6, *SHAPE)
    output = model(x, generator=torch.Generator().manual_seed(0))
    return x, output, Objective(ObjectiveConfig(beta=beta, **fields), image_shape=SHAPE)(x, output, 0)


@pytest.mark.parametrize("recon", ["ms-ssim", "watson-dft", "focal-frequency"])
def test_a_loss_logs_the_gaussian_elbo_at_the_batchs_optimal_sigma_and_no_elbo_of_its_own(recon):
    x, output, terms = terms_of(recon=recon)
    metrics = terms.metrics()
    assert math.isnan(metrics["elbo"]) and math.isnan(metrics["sigma"])
    # sigma^2 = SSE / (B D), the batch's mean squared error; the NLL is then D/2 + D log sigma + D/2 log 2 pi + ...
    sse = (x - output.reconstruction).pow(2).flatten(1).sum(dim=1)
    sigma = math.sqrt(sse.sum().item() / (len(x) * D))
    nll = sse / (2 * sigma**2) + D * math.log(sigma) + D / 2 * math.log(2 * math.pi)
    assert metrics["sigma_optimal"] == pytest.approx(sigma, rel=1e-5)
    assert metrics["elbo_optimal_sigma"] == pytest.approx(-(nll + terms.kl).mean().item(), rel=1e-5)
    assert metrics["loss"] == pytest.approx(metrics["recon"] + 0.1 * metrics["kl"], rel=1e-6)


def test_an_added_loss_is_weighed_into_the_likelihoods_term():
    x, output, terms = terms_of(recon="l1", recon_extra="focal-frequency", recon_extra_weight=0.5)
    expected = absolute_error(x, output.reconstruction) + 0.5 * focal_frequency_loss(x, output.reconstruction)
    torch.testing.assert_close(terms.recon, expected)
    assert torch.isnan(terms.elbo).all()  # the sum is no likelihood
    assert Config(objective=ObjectiveConfig(recon="l1", recon_extra="ms-ssim", recon_extra_weight=0.84)).describe() == (
        "VAE, latent 32, summed absolute error (a Laplace NLL) + 0.84 x MS-SSIM loss + KL")


@pytest.mark.parametrize("fields,message", [
    ({"recon": "ms-ssim", "recon_extra": "watson-dft"}, "--recon ms-ssim is not one"),
    ({"recon_extra": "lpips"}, "objective.recon_extra='lpips' is unknown"),
    ({"recon_extra_weight": 0.5}, "objective.recon_extra, which is not set"),
    ({"recon_extra": "ms-ssim", "recon_extra_weight": 0.0}, "must be > 0"),
    ({"geco_target": 1.0, "geco_units": "recon", "recon": "l1"}, "GECO with --recon l1 is not supported"),
    ({"gan_weight": -1.0}, "objective.gan_weight=-1.0 must be >= 0"),
    ({"gan_start": 100}, "objective.gan_start shapes the adversarial term, which is off"),
    ({"gan_weight": 0.5, "beta_range": [0.01, 1.0]}, "one discriminator cannot judge"),
])
def test_settings_that_make_no_sense_are_one_line_usage_errors(fields, message):
    with pytest.raises(UsageError) as error:
        check_objective(Config(objective=ObjectiveConfig(**fields)).validate())
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_patchgan_on_the_plain_autoencoder_is_refused():
    config = Config().with_updates({"model.kind": "ae", "objective.gan_weight": 0.5})
    with pytest.raises(UsageError, match="PatchGAN term on the plain AE is refused") as error:
        check_objective(config)
    assert "\n" not in str(error.value)


def test_geco_in_recon_units_takes_a_loss_that_is_not_a_likelihood():
    check_objective(Config(objective=ObjectiveConfig(recon="ms-ssim", geco_target=100.0, geco_units="recon")))


@pytest.mark.parametrize("recon", ["ms-ssim", "watson-dft", "focal-frequency"])
def test_a_loss_runs_under_bf16_autocast_in_float32(recon):
    # the FFT takes no bfloat16: the losses compute in float32 whatever the decoder's precision under --amp
    objective = Objective(ObjectiveConfig(recon=recon), image_shape=SHAPE)
    x, logits = torch.rand(2, *SHAPE), torch.randn(2, *SHAPE)
    exact = objective.likelihood.recon(x, logits)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under_amp = objective.likelihood.recon(x, logits.bfloat16())
    assert under_amp.dtype == torch.float32
    torch.testing.assert_close(under_amp, exact, rtol=0.02, atol=0.0)
