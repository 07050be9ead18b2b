"""Known answers for the aggregate posterior against the prior, and the ELBO decomposition's identity."""

import math

import pytest
import torch

from vaelab.diagnostics.aggregate import (
    aggregate_moments,
    elbo_decomposition,
    imq_bandwidth,
    mmd_imq,
    moment_matched_kl,
)
from vaelab.diagnostics.latent import Encodings


def test_moment_matched_kl_is_zero_when_every_posterior_is_the_prior():
    encodings = Encodings(mean=torch.zeros(10, 3), logvar=torch.zeros(10, 3))
    mean, covariance = aggregate_moments(encodings)
    assert moment_matched_kl(mean, covariance) == pytest.approx(0.0, abs=1e-12)


def test_moment_matched_kl_known_answer():
    # q(z) = 0.5 N(-a, 1) + 0.5 N(a, 1): mean 0, variance a^2 + 1 (law of total variance)
    a = 2.0
    encodings = Encodings(mean=torch.tensor([[-a], [a]]), logvar=torch.zeros(2, 1))
    mean, covariance = aggregate_moments(encodings)
    assert covariance.item() == pytest.approx(a**2 + 1)
    s = a**2 + 1
    assert moment_matched_kl(mean, covariance) == pytest.approx(0.5 * (s - 1 - math.log(s)))
    # a shifted, correlated Gaussian: 0.5 (tr S + m^T m - Z - log det S)
    m = torch.tensor([1.0, -1.0], dtype=torch.float64)
    cov = torch.tensor([[2.0, 0.5], [0.5, 1.0]], dtype=torch.float64)
    expected = 0.5 * (3.0 + 2.0 - 2 - math.log(2.0 - 0.25))
    assert moment_matched_kl(m, cov) == pytest.approx(expected)
    assert moment_matched_kl(m, torch.zeros(2, 2, dtype=torch.float64)) == math.inf


def test_mmd_known_answer_and_behaviour():
    # by hand with C = 2: k(0,1) = 2/3, k(0,2) = 1/3, k(1,2) = 2/3
    a, b = torch.tensor([[0.0], [1.0]]), torch.tensor([[0.0], [2.0]])
    assert mmd_imq(a, b, bandwidth=2.0) == pytest.approx(2 / 3 + 1 / 3 - 2 * (1 + 1 / 3 + 2 / 3 + 2 / 3) / 4)
    generator = torch.Generator().manual_seed(0)
    p, q = torch.randn(800, 4, generator=generator), torch.randn(800, 4, generator=generator)
    same = mmd_imq(q, p, imq_bandwidth(4))
    shifted = mmd_imq(q + 1.0, p, imq_bandwidth(4))
    assert abs(same) < 0.005 and shifted > 20 * max(abs(same), 1e-4)


def encodings_of(n=12, z=3, seed=0, spread=1.5):
    generator = torch.Generator().manual_seed(seed)
    mean = spread * torch.randn(n, z, generator=generator)
    logvar = torch.rand(n, z, generator=generator) * 2 - 2.0  # std in [0.37, 1]
    return Encodings(mean=mean, logvar=logvar)


def test_mi_plus_tc_plus_dimensionwise_kl_is_the_mean_kl():
    encodings = encodings_of()
    result = elbo_decomposition(encodings, samples_per_image=400, generator=torch.Generator().manual_seed(1))
    total = result.index_code_mi + result.total_correlation + result.dimensionwise_kl
    assert total == pytest.approx(result.kl, abs=1e-9)  # the same samples: an identity
    analytic = float(encodings.posterior().kl().double().mean())
    assert result.kl == pytest.approx(analytic, rel=0.02)  # 4800 samples of log q(z|x) - log p(z)
    assert 0 < result.index_code_mi <= math.log(12) + 1e-9
    assert result.total_correlation > -0.05 and result.dimensionwise_kl > 0


def test_identical_posteriors_carry_no_information_and_no_correlation():
    mean = torch.tensor([[0.5, -1.0, 2.0]]).repeat(8, 1)
    logvar = torch.tensor([[-1.0, 0.0, 0.5]]).repeat(8, 1)
    generator = torch.Generator().manual_seed(0)
    result = elbo_decomposition(Encodings(mean, logvar), samples_per_image=50, generator=generator)
    assert result.index_code_mi == pytest.approx(0.0, abs=1e-9)
    assert result.total_correlation == pytest.approx(0.0, abs=1e-9)
    assert result.dimensionwise_kl == pytest.approx(result.kl, abs=1e-9)


def test_two_separated_codes_on_the_diagonal_give_log2_of_information_and_of_correlation():
    # q(z) puts half its mass near (-5, -5) and half near (5, 5): z tells which image (MI = log 2), and
    # z_1 tells z_2 (TC = log 2), while each marginal q(z_j) is a two-bump mixture.
    mean = torch.tensor([[-5.0, -5.0], [5.0, 5.0]])
    logvar = torch.full((2, 2), math.log(0.1**2))
    generator = torch.Generator().manual_seed(0)
    result = elbo_decomposition(Encodings(mean, logvar), samples_per_image=200, generator=generator)
    assert result.index_code_mi == pytest.approx(math.log(2), abs=1e-6)
    assert result.total_correlation == pytest.approx(math.log(2), abs=1e-6)


def test_the_aggregate_moments_of_codes_away_from_the_origin():
    # q(z) = 0.5 N(1, 1) + 0.5 N(3, 1): mean 2, variance 1 (the means' spread) + 1 (the posteriors' own)
    mean, covariance = aggregate_moments(Encodings(mean=torch.tensor([[1.0], [3.0]]), logvar=torch.zeros(2, 1)))
    assert mean.item() == pytest.approx(2.0) and covariance.item() == pytest.approx(2.0)


def test_the_decompositions_intervals_are_t_intervals_over_its_replicates():
    # one posterior for every image: MI and TC are exactly 0 in every replicate, so are their intervals; the
    # dimension-wise KL is the Monte Carlo KL, whose 95% interval covers the closed form and narrows as 1 / sqrt(S)
    mean = torch.tensor([[0.5, -1.0, 2.0]]).repeat(8, 1)
    logvar = torch.tensor([[-1.0, 0.0, 0.5]]).repeat(8, 1)
    exact = float(Encodings(mean, logvar).posterior().kl()[0])
    widths = []
    for samples in (25, 400):
        result = elbo_decomposition(Encodings(mean, logvar), samples_per_image=samples,
                                    generator=torch.Generator().manual_seed(3))
        assert result.index_code_mi_ci == pytest.approx([0.0, 0.0], abs=1e-9)
        assert result.total_correlation_ci == pytest.approx([0.0, 0.0], abs=1e-9)
        low, high = result.dimensionwise_kl_ci
        assert low < result.dimensionwise_kl < high and low < exact < high
        widths.append(high - low)
    assert widths[1] / widths[0] == pytest.approx(0.25 * 1.966 / 2.064, rel=0.3)  # sqrt(25 / 400) t_399 / t_24
