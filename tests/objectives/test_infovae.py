"""Known answers for InfoVAE: alpha = 0, lambda = 1 is the ELBO objective; alpha = 1 (the MMD-VAE) puts the MMD
between the batch's codes and as many prior draws, from the pass's noise generator, in place of the KL."""

import pytest
import torch

from vaelab.config import ObjectiveConfig
from vaelab.model import ConvVAE
from vaelab.objectives import Objective
from vaelab.objectives.infovae import InfoMMD, latent_mmd
from vaelab.objectives.kl import KLEstimate

SHAPE = (1, 8, 8)


def model_output():
    torch.manual_seed(0)
    model = ConvVAE(image_size=8, channels=1, latent_dim=3, width=4)
    x = torch.rand(6, *SHAPE, generator=torch.Generator().manual_seed(1))
    return x, model(x, generator=torch.Generator().manual_seed(2))


def test_alpha_zero_lambda_one_is_the_elbo_objective():
    x, output = model_output()
    info = Objective(ObjectiveConfig(recon="sse", beta=0.3, method="infovae", info_alpha=0.0, info_lambda=1.0),
                     image_shape=SHAPE)
    plain = Objective(ObjectiveConfig(recon="sse", beta=0.3), image_shape=SHAPE)
    a, b = info(x, output, 0, generator=torch.Generator().manual_seed(3)), plain(x, output, 0)
    torch.testing.assert_close(a.loss, b.loss)
    torch.testing.assert_close(a.elbo, b.elbo)


@pytest.mark.parametrize("alpha, lam", [(1.0, 100.0), (0.5, 10.0)])
def test_the_mmd_joins_or_replaces_the_kl(alpha, lam):
    x, output = model_output()
    info = Objective(ObjectiveConfig(recon="sse", beta=0.3, method="infovae", info_alpha=alpha, info_lambda=lam),
                     image_shape=SHAPE)
    terms = info(x, output, 0, generator=torch.Generator().manual_seed(3))
    draws = torch.randn(6, 3, generator=torch.Generator().manual_seed(3))  # the prior N(0, I)'s draws
    mmd = latent_mmd(output.z, draws)
    expected = terms.recon.mean() + 0.3 * ((1 - alpha) * terms.kl.mean() + (alpha + lam - 1) * mmd)
    torch.testing.assert_close(terms.loss, expected)
    assert float(terms.extras["mmd"]) == pytest.approx(float(mmd))
    assert float(mmd) != 0


class ShiftedPrior:
    """A stand-in for a learned prior (VampPrior, fitted mixture): N(3, I), whose draws the MMD must use."""

    def sample(self, n, generator=None):
        return 3 + torch.randn(n, 3, generator=generator)


def test_the_mmd_is_to_the_models_own_prior_when_it_has_one():
    _, output = model_output()
    term = InfoMMD(alpha=1.0, lam=2.0)
    estimate = KLEstimate(kl=torch.zeros(6), kl_per_dim=None, log_ratio=torch.zeros(1, 6), estimator="closed form")
    _, logged = term(output, estimate, torch.Generator().manual_seed(5))
    standard = latent_mmd(output.z, torch.randn(6, 3, generator=torch.Generator().manual_seed(5)))
    torch.testing.assert_close(logged["mmd"], standard.detach())  # no prior on the output: N(0, I)
    output.prior = ShiftedPrior()
    _, logged = term(output, estimate, torch.Generator().manual_seed(5))
    shifted = latent_mmd(output.z, ShiftedPrior().sample(6, torch.Generator().manual_seed(5)))
    torch.testing.assert_close(logged["mmd"], shifted.detach())
    assert float(shifted) > 2 * float(standard)
