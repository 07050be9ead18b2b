"""Known answers for beta-TCVAE: the three terms add up to the KL estimate, alpha = beta = gamma = 1 is the plain
ELBO, the stratified estimator is the exact mixture when the batch is the whole data set, and both estimators on
identical posteriors (q(z) = q(z|x): no MI, no TC; minibatch-weighted sampling reads MI = log N)."""

import math

import pytest
import torch

from vaelab.config import ObjectiveConfig
from vaelab.model import ConvVAE, VAEOutput
from vaelab.model.posterior import DiagonalGaussian
from vaelab.objectives import Objective
from vaelab.objectives.tcvae import kl_decomposition

SHAPE = (1, 8, 8)


def codes(posterior: DiagonalGaussian, seed: int = 0) -> VAEOutput:
    z = posterior.sample(torch.Generator().manual_seed(seed))
    return VAEOutput(posterior=posterior, z=z, logits=torch.zeros(len(z), *SHAPE))


def random_posterior(batch: int = 7, dims: int = 3) -> DiagonalGaussian:
    generator = torch.Generator().manual_seed(1)
    return DiagonalGaussian(torch.randn(batch, dims, generator=generator, dtype=torch.float64),
                            0.5 * torch.randn(batch, dims, generator=generator, dtype=torch.float64) - 1)


def log_ratio(output: VAEOutput) -> torch.Tensor:
    """log q(z|x) - log N(z; 0, I) of each code."""
    z = output.z
    return output.posterior.log_prob(z) + 0.5 * (z.pow(2) + math.log(2 * math.pi)).sum(dim=1)


@pytest.mark.parametrize("sampling", ["mws", "mss"])
def test_the_three_terms_add_up_to_the_kl_estimate(sampling):
    output = codes(random_posterior())
    mi, tc, dwkl = kl_decomposition(output, log_ratio(output), dataset_size=100, sampling=sampling)
    torch.testing.assert_close(mi + tc + dwkl, log_ratio(output))
    assert float(tc.mean()) != 0 and float(mi.mean()) != 0  # the split itself is not trivial here


@pytest.mark.parametrize("sampling", ["mws", "mss"])
def test_unit_weights_recover_the_plain_elbo_objective(sampling):
    torch.manual_seed(0)
    model = ConvVAE(image_size=8, channels=1, latent_dim=3, width=4)
    x = torch.rand(6, *SHAPE, generator=torch.Generator().manual_seed(1))
    output = model(x, generator=torch.Generator().manual_seed(2))
    config = {"recon": "sse", "beta": 0.3}
    tcvae = Objective(ObjectiveConfig(**config, method="tcvae", tc_sampling=sampling), image_shape=SHAPE,
                      dataset_size=50)
    plain = Objective(ObjectiveConfig(**config), image_shape=SHAPE)
    a, b = tcvae(x, output, 0), plain(x, output, 0)
    single_code = (b.recon + 0.3 * log_ratio(output)).mean()  # the ELBO objective with the one-code KL
    torch.testing.assert_close(a.loss, single_code)
    for name in ("recon", "kl", "elbo"):
        torch.testing.assert_close(getattr(a, name), getattr(b, name))
    logged = a.metrics()
    assert logged["mi"] + logged["tc"] + logged["dwkl"] == pytest.approx(logged["kl_objective"], abs=1e-5)
    # weights that differ reweigh the parts: loss = recon + beta (alpha MI + beta_tc TC + gamma DWKL)
    weighted = Objective(ObjectiveConfig(**config, method="tcvae", tc_alpha=0.5, tc_beta=6.0, tc_gamma=2.0,
                                         tc_sampling=sampling), image_shape=SHAPE, dataset_size=50)
    mi, tc, dwkl = kl_decomposition(output, log_ratio(output), 50, sampling)
    torch.testing.assert_close(weighted(x, output, 0).loss, (b.recon + 0.3 * (0.5 * mi + 6 * tc + 2 * dwkl)).mean())


def test_stratified_sampling_on_the_whole_data_set_is_the_exact_mixture():
    posterior = random_posterior(batch=9)
    output = codes(posterior)
    n = len(output.z)
    mi, tc, _ = kl_decomposition(output, log_ratio(output), dataset_size=n, sampling="mss")
    per_dim = posterior.mean.new_zeros(n, n, 3)  # log q(z_ij | x_m)
    for m in range(n):
        per_dim[:, m] = torch.distributions.Normal(posterior.mean[m], posterior.std[m]).log_prob(output.z)
    log_qz = torch.logsumexp(per_dim.sum(dim=2), dim=1) - math.log(n)
    log_marginals = (torch.logsumexp(per_dim, dim=1) - math.log(n)).sum(dim=1)
    torch.testing.assert_close(mi, posterior.log_prob(output.z) - log_qz)
    torch.testing.assert_close(tc, log_qz - log_marginals)


def test_identical_posteriors_have_no_mi_and_no_tc_and_mws_reads_log_n():
    one = random_posterior(batch=1)
    posterior = DiagonalGaussian(one.mean.expand(8, 3), one.logvar.expand(8, 3))
    output = codes(posterior)
    mi, tc, _ = kl_decomposition(output, log_ratio(output), dataset_size=1000, sampling="mss")
    torch.testing.assert_close(mi, torch.zeros(8, dtype=torch.float64), atol=1e-9, rtol=0)
    torch.testing.assert_close(tc, torch.zeros(8, dtype=torch.float64), atol=1e-9, rtol=0)
    mi_mws, tc_mws, _ = kl_decomposition(output, log_ratio(output), dataset_size=1000, sampling="mws")
    # its weight 1 / (N B) on each of B identical posteriors reads q(z) as q(z|x) / N, and each of the Z = 3
    # marginals as q(z_j|x) / N: MI = log N and TC = (Z - 1) log N where both are 0, the bias of sec. 4.1's estimator
    torch.testing.assert_close(mi_mws, torch.full((8,), math.log(1000), dtype=torch.float64))
    torch.testing.assert_close(tc_mws, torch.full((8,), 2 * math.log(1000), dtype=torch.float64))
