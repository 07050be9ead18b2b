"""Known answers for the posterior: the closed-form KL against Monte Carlo and hand-computed values."""

import math

import torch

from vaelab.model.posterior import DiagonalGaussian, PointMass


def test_kl_closed_form_matches_monte_carlo():
    torch.manual_seed(0)
    mean = torch.tensor([[0.5, -1.0, 2.0], [0.0, 0.3, -0.7]])
    logvar = torch.tensor([[0.2, -1.5, 0.7], [0.0, 1.0, -0.3]])
    q = DiagonalGaussian(mean, logvar)
    z = q.mean + q.std * torch.randn(400_000, *mean.shape)  # (S, B, Z)
    log_prior = (-0.5 * (z.pow(2) + math.log(2 * math.pi))).sum(-1)
    monte_carlo = (q.log_prob(z) - log_prior).mean(0)  # E_q[log q - log p]
    torch.testing.assert_close(monte_carlo, q.kl(), atol=0.01, rtol=0.0)


def test_kl_known_values():
    # KL[N(mu, s^2) || N(0, 1)] = 0.5 (s^2 + mu^2 - 1 - log s^2)
    q = DiagonalGaussian(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, math.log(4.0)]]))
    expected = 0.5 * (1 + 1 - 1 - 0) + 0.5 * (4 + 0 - 1 - math.log(4))
    assert abs(q.kl().item() - expected) < 1e-6
    assert torch.allclose(q.kl_per_dim(), torch.tensor([[0.5, 0.5 * (3 - math.log(4))]]))
    assert DiagonalGaussian(torch.zeros(4, 3), torch.zeros(4, 3)).kl().abs().max() == 0


def test_sample_has_the_posterior_moments():
    q = DiagonalGaussian(torch.tensor([[2.0, -1.0]]).expand(200_000, 2), torch.tensor([[math.log(0.25), 0.0]]).expand(200_000, 2))
    z = q.sample(torch.Generator().manual_seed(1))
    torch.testing.assert_close(z.mean(0), torch.tensor([2.0, -1.0]), atol=0.01, rtol=0)
    torch.testing.assert_close(z.std(0), torch.tensor([0.5, 1.0]), atol=0.01, rtol=0)
    assert torch.equal(q.mode(), q.mean)


def test_point_mass_is_deterministic_with_zero_kl_per_example():
    q = PointMass(torch.randn(5, 3))
    assert torch.equal(q.sample(), q.mean) and torch.equal(q.mode(), q.mean)
    assert q.kl().shape == (5,) and q.kl().abs().sum() == 0


def test_bf16_autocast_leaves_the_posterior_and_the_kl_in_float32():
    from vaelab.config import ObjectiveConfig
    from vaelab.model import ConvVAE
    from vaelab.objectives import Objective

    torch.manual_seed(0)
    model = ConvVAE(image_size=16, channels=1, latent_dim=8, width=4)
    objective = Objective(ObjectiveConfig(recon="sse", beta=1.0), image_shape=(1, 16, 16))
    x = torch.rand(4, 1, 16, 16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        output = model(x, generator=torch.Generator().manual_seed(0))
        terms = objective(x, output, 0)
        assert model.encoder[0](x).dtype == torch.bfloat16  # the network itself runs in bf16
    assert output.posterior.mean.dtype == output.posterior.logvar.dtype == torch.float32
    assert output.z.dtype == torch.float32 and terms.kl.dtype == torch.float32
    exact = model(x, generator=torch.Generator().manual_seed(0)).posterior.kl()
    # bf16 features into a float32 head: the KL moves by the rounding of the features, not in 0.25-nat steps
    torch.testing.assert_close(terms.kl, exact, rtol=0.02, atol=0.02)
